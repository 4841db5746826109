"""Many answers -> a report in input order, per-student totals, a class summary, Gradescope results.

The input (CSV, JSONL or an answer file, see submission.py) is streamed twice: once to grade,
writing each result to a journal beside the report (REPORT.partial.jsonl, one line per row, in
input order, flushed every 50 ms), and once to join input and journal into the report, totals and
summary, each written to a temporary file and renamed into place. Memory holds only the window
of rows in flight, the per-student totals and the summary's counters, whatever the row count.
A run that was killed or interrupted leaves the journal; the same command again checks the
input's hash and grades only the rows after those already journalled.
"""
from __future__ import annotations

import contextlib
import csv
import json
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from derive.batch import gradescope
from derive.batch import groups as grouped
from derive.batch.checking import Memo, checking
from derive.batch.journal import Graded, Journal
from derive.batch.rows import Row, Source, digest, open_source, rows
from derive.batch.statistics import SummaryBuilder, Totals
from derive.errors import DeriveError, Interrupted, UsageError
from derive.grading import DEFAULT_TIMEOUT, Checker
from derive.grading.checker import valid_timeout
from derive.render.summary import html
from derive.runtime import commandline as cliutil
from derive.runtime.commandline import Terminated

RESULT_COLUMNS = ("verdict", "score", "diagnosis", "feedback")
VERDICTS = ("correct", "consistent", "incorrect", "invalid", "undecided")
MAX_AHEAD = 2000               # distinct questions derived before the workers start
THREADS = 2                    # grading threads per worker: one waits on a worker while another queues
WINDOW = 16                    # groups in flight per worker, so one slow check does not idle the others


@dataclass(frozen=True)
class Outcome:
    rows: int
    counts: dict                # verdict -> rows
    resumed: int                # rows taken from an earlier run's journal
    seconds: float              # grading time of this run
    checked: int = 0            # answers that went through the checker (the rest repeated an earlier one)
    written: dict = field(default_factory=dict)   # "report" / "totals" / "summary" / "gradescope" -> path


# ---- grading one row ------------------------------------------------------------------------
def meaning_key(result) -> str:
    """What a wrong answer means, so differently typed equal answers cluster: the hash of its values
    at the checker's fixed points (CheckResult.fingerprint), else what the checker understood."""
    if result.fingerprint:
        return "values:" + result.fingerprint
    return "read:" + "".join((result.interpreted or result.answer).split())


def grade_row(row: Row, check_one: Callable) -> Graded:
    """One row -> Graded; never raises for anything a row holds."""
    return _grade_row(row, check_one)[0]


def _grade_row(row: Row, check_one: Callable) -> tuple:
    """(Graded, the CheckResult, or None when the row never reached the checker)."""
    f = row.fields
    where = dict(problem=f.get("problem", "").strip(), quantity=f.get("quantity", "").strip())
    raw = f.get("max_score", "").strip() or "1"
    try:
        max_score = float(raw)
    except ValueError:
        max_score = -1.0
    if not 0 <= max_score < float("inf"):
        return Graded("invalid", 0.0, 0.0, feedback=(f"max_score {raw[:40]!r} is not a number ≥ 0",), **where), None
    if row.error:
        return Graded("invalid", 0.0, max_score, feedback=(row.error,), **where), None
    variant = f.get("variant", "").strip()
    if variant and not variant.lstrip("-").isdigit():
        return Graded("invalid", 0.0, max_score, feedback=(f"variant {variant[:40]!r} is not a whole number",),
                      **where), None
    try:
        r = check_one(where["problem"], where["quantity"], f["answer"], _variant(f))
    except DeriveError as e:              # unknown problem or quantity, a broken problem file
        return Graded("invalid", 0.0, max_score, feedback=(str(e),), **where), None
    return Graded(r.verdict, r.score * max_score, max_score, tuple(r.diagnosis), tuple(r.feedback),
                  r.interpreted, meaning_key(r) if r.verdict not in ("correct", "invalid") else "",
                  r.problem, r.quantity), r


def grade_group(rows: list, check_one: Callable) -> list:
    """One student's consecutive rows of one problem -> Graded each, as one derivation (grouped.py)."""
    pairs = [_grade_row(row, check_one) for row in rows]
    return grouped.carry(rows, pairs, getattr(check_one, "checker", None), getattr(check_one, "load", None),
                         getattr(check_one, "ecf", None))


def graded_in_order(rows: Iterator[Row], check_one: Memo, workers: int) -> Iterator[Graded]:
    """Grade rows on THREADS threads per worker, yielding results in input order, one student's consecutive
    rows of a problem together (grade_group), at most WINDOW groups per worker in flight. Groups that
    need no check (unusable rows, or answers already checked) are graded here."""
    ex = ThreadPoolExecutor(max_workers=THREADS * workers, thread_name_prefix="derive-grade")
    window: deque = deque()
    try:
        for group in grouped.groups(rows):
            if all(row.error or check_one.knows(row.fields["problem"].strip(), row.fields["quantity"].strip(),
                                                row.fields["answer"], _variant(row.fields)) for row in group):
                window.append(grade_group(group, check_one))
            else:
                window.append(ex.submit(grade_group, group, check_one))
            while window and (len(window) >= WINDOW * workers or isinstance(window[0], list)):
                head = window.popleft()
                yield from head if isinstance(head, list) else head.result()
        while window:
            head = window.popleft()
            yield from head if isinstance(head, list) else head.result()
    finally:
        ex.shutdown(wait=False, cancel_futures=True)


def _variant(fields: dict) -> int | None:
    v = fields.get("variant", "").strip()
    return int(v) if v.lstrip("-").isdigit() else None


# ---- the whole batch --------------------------------------------------------------------------
def grade_file(path, output=None, *, totals=None, summary=None, gradescope_out=None, workers: int = 1,
               timeout: float = DEFAULT_TIMEOUT, extra=None, student: str | None = None,
               expected=(), checker: Checker | None = None, force: bool = False,
               progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Grade every row of `path` into `output` (default: beside the input, NAME.report.csv).
    `expected` (problem id, quantity) pairs fix the Gradescope tests (see gradescope.results);
    `checker`: a warm Checker to use (and leave open) instead of starting one with `workers`;
    an existing output is overwritten only if derive wrote it (is_report...), or with `force`.
    Raises InputError for an unusable input, OutputError for an output it may not write,
    Interrupted on Ctrl-C or SIGTERM (the journal keeps the rows)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"the number of workers is a whole number ≥ 1, not {workers!r}")
    valid_timeout(timeout)
    src = open_source(path, student)
    output = Path(output) if output else src.path.with_name(src.path.stem + ".report.csv")
    outputs = ((output, is_report), (totals, is_totals), (summary, None), (gradescope_out, gradescope.is_results))
    for out, signature in outputs:
        if not out:
            continue
        if Path(out).resolve() == src.path.resolve():
            raise UsageError(f"{out} is the input file; write the results to another file")
        cliutil.check_output(out, force, signature)          # found now, not after grading every row
    total, questions = 0, {}
    for r in rows(src):
        total += 1
        if not r.error and len(questions) < MAX_AHEAD:
            questions[r.fields["problem"].strip(), r.fields["quantity"].strip()] = None
    if gradescope_out:
        gradescope.one_student(src.path, (r.fields.get("student", "") for r in rows(src)))
    journal = Journal(output)
    try:
        resumed = journal.resume(digest(src.path))
    except OSError as e:
        raise UsageError(f"cannot write {journal.path}: {e.strerror or e}") from None
    done, t0 = resumed, time.perf_counter()
    pending = (r for i, r in enumerate(rows(src)) if i >= resumed)
    with checking(workers, timeout, extra, checker, questions) as check_one:
        results = graded_in_order(pending, check_one, workers)
        try:
            for g in results:
                journal.append(g)
                done += 1
                if progress:
                    progress(done, total)
        except KeyboardInterrupt as e:
            journal.close()
            raise Interrupted(journal.count, total, journal.path, isinstance(e, Terminated)) from None
        finally:
            results.close()
            journal.close()
        checked = check_one.misses
    seconds = time.perf_counter() - t0
    try:
        counts, written = _finish(src, journal, output, totals, summary, gradescope_out, expected)
    except KeyboardInterrupt as e:
        raise Interrupted(journal.count, total, journal.path, isinstance(e, Terminated)) from None
    except OSError as e:                 # every row is in the journal: the same command finishes the job
        raise DeriveError(f"cannot write the results ({e.strerror or e}{': ' + e.filename if e.filename else ''}); "
                          f"all {journal.count:,} rows are saved in {journal.path}, run the same command "
                          "again to write them") from None
    journal.path.unlink()
    return Outcome(total, counts, resumed, seconds, checked, written)


def _finish(src: Source, journal: Journal, output: Path, totals, summary, gs, expected) -> tuple[dict, dict]:
    """Join input rows and journal into the report (and totals, summary, Gradescope), atomically."""
    counts = dict.fromkeys(VERDICTS, 0)
    tot = Totals() if totals else None
    summ = SummaryBuilder() if summary else None
    mine = [] if gs else None
    jsonl = output.suffix.lower() == ".jsonl"
    columns = [c for c in src.columns if c not in RESULT_COLUMNS] + list(RESULT_COLUMNS)
    with _atomic(output) as f:
        writer = None if jsonl else csv.writer(f)
        if writer:
            writer.writerow(columns)
        for row, g in zip(rows(src), journal.replay(), strict=True):
            counts[g.verdict] = counts.get(g.verdict, 0) + 1
            out = {c: row.fields.get(c, "") for c in src.columns if c not in RESULT_COLUMNS}
            out.update(verdict=g.verdict, score=_num(g.score))
            if jsonl:
                out.update(score=g.score, diagnosis=list(g.diagnosis), feedback=list(g.feedback))
                f.write(json.dumps(out, ensure_ascii=False) + "\n")
            else:
                out.update(diagnosis=",".join(g.diagnosis), feedback="; ".join(g.feedback))
                writer.writerow([out.get(c, "") for c in columns])
            if tot is not None:
                tot.add(row.fields.get("student", ""), g)
            if summ is not None:
                summ.add(row.fields, g)
            if mine is not None:
                mine.append((row.fields, g))
    written = {"report": output}
    if tot is not None:
        with _atomic(Path(totals)) as f:
            tot.write_csv(f, VERDICTS)
        written["totals"] = Path(totals)
    if summ is not None:
        with _atomic(Path(summary)) as f:
            f.write(cliutil.marker_line(summary) + html(summ.build(src.path.name)))
        written["summary"] = Path(summary)
    if mine is not None:
        with _atomic(Path(gs)) as f:
            json.dump(gradescope.results(mine, expected), f, indent=2, ensure_ascii=False)
        written["gradescope"] = Path(gs)
    return counts, written


# ---- which existing files are derive's own output (cliutil.check_output) ---------------------------
def is_report(path) -> bool:
    """A report derive wrote: its CSV header, or its JSONL first row's keys, end with RESULT_COLUMNS
    (an empty .jsonl is the report of an empty input)."""
    head = cliutil.first_line(path)
    if Path(path).suffix.lower() != ".jsonl":
        return _header(head)[-4:] == list(RESULT_COLUMNS)
    if not head:
        return _empty(path)
    try:
        row = json.loads(head)
    except ValueError:
        return False
    return isinstance(row, dict) and list(row)[-4:] == list(RESULT_COLUMNS)


def is_totals(path) -> bool:
    """Per-student totals derive wrote: exactly its header (summary.Totals.write_csv)."""
    return _header(cliutil.first_line(path)) == ["student", "score", "max_score", "answers", *VERDICTS]


def _header(line: bytes) -> list:
    try:
        return next(csv.reader([line.decode("utf-8-sig")]), [])
    except (UnicodeDecodeError, csv.Error):
        return []


def _empty(path) -> bool:
    try:
        return os.stat(path).st_size == 0
    except OSError:
        return False


def _num(x: float) -> str:
    return f"{x:g}"


@contextlib.contextmanager
def _atomic(path: Path):
    """A text file written beside its final name and renamed into place only once complete."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
