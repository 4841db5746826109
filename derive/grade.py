"""Many answers -> a report in input order, per-student totals, a class summary, Gradescope results.

The input (CSV, JSONL or an answer file, see submission.py) is streamed twice: once to grade,
writing each result to a journal beside the report (REPORT.partial.jsonl, one line per row, in
input order, flushed per row), and once to join input and journal into the report, totals and
summary, each written to a temporary file and renamed into place. Memory holds only the window
of rows in flight, the per-student totals and the summary's counters, whatever the row count.
A run that was killed or interrupted leaves the journal; the same command again checks the
input's hash and grades only the rows after those already journalled.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from . import gradescope, variants
from .grading import DEFAULT_TIMEOUT, Checker
from .grading.steps import carry_forward, check_answer
from .errors import DeriveError, Interrupted
from .render.summary import html
from .rows import Row, Source, digest, open_source, rows
from .summary import SummaryBuilder, Totals

RESULT_COLUMNS = ("verdict", "score", "diagnosis", "feedback")
VERDICTS = ("correct", "consistent", "incorrect", "invalid", "undecided")
JOURNAL_VERSION = 1
MEMO_SIZE = 8192               # distinct (question, answer) results remembered
MEMO_MAX_ANSWER = 2000         # characters: longer answers are refused by the parser anyway
SYNC_SECONDS = 0.2              # fsync the journal at most this often (each row is flushed at once)


@dataclass(frozen=True)
class Graded:
    verdict: str
    score: float
    max_score: float
    diagnosis: tuple = ()
    feedback: tuple = ()
    interpreted: str = ""
    key: str = ""               # what the answer means, for clustering wrong answers (meaning_key)
    problem: str = ""           # the problem's id and the quantity's name (as typed when unknown)
    quantity: str = ""
    headline: str = ""          # on the first row of a derivation with a mistake: where it is (grade_group)

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "score": self.score, "max_score": self.max_score,
                "diagnosis": list(self.diagnosis), "feedback": list(self.feedback),
                "interpreted": self.interpreted, "key": self.key, "problem": self.problem,
                "quantity": self.quantity, "headline": self.headline}

    @classmethod
    def from_json(cls, d: dict) -> "Graded":
        return cls(d["verdict"], float(d["score"]), float(d["max_score"]), tuple(d["diagnosis"]),
                   tuple(d["feedback"]), d["interpreted"], d["key"], d["problem"], d["quantity"],
                   d.get("headline", ""))


@dataclass(frozen=True)
class Outcome:
    rows: int
    counts: dict                # verdict -> rows
    resumed: int                # rows taken from an earlier run's journal
    seconds: float              # grading time of this run
    written: dict = field(default_factory=dict)   # "report" / "totals" / "summary" / "gradescope" -> path


# ---- grading one row ------------------------------------------------------------------------
@contextlib.contextmanager
def checking(workers: int = 1, timeout: float = DEFAULT_TIMEOUT, extra=None, checker: Checker | None = None):
    """The one place that calls the checker: yields (problem, quantity, answer, variant) -> CheckResult,
    backed by `checker`, or by a new Checker with `workers` processes, closed on exit."""
    with contextlib.ExitStack() as stack:
        c = checker or stack.enter_context(Checker(workers=workers, problems=extra or (), timeout=timeout))
        memo = Memo(lambda problem, quantity, answer, variant=None: check_answer(
            c, problem, quantity, answer, timeout=timeout, variant=variant))
        memo.checker = c                 # grade_group grades a student's steps together with it
        yield memo


class Memo:
    """Identical answers to one question get one check: a class types the same few spellings many
    times, and a check is a pure function of (problem, quantity, answer, variant). Bounded (LRU);
    answers too long to be valid are not kept. Safe to call from several threads."""

    def __init__(self, fn: Callable, size: int = MEMO_SIZE):
        self.fn, self.size = fn, size
        self.cache: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def __call__(self, problem: str, quantity: str, answer: str, variant: int | None = None):
        key = (problem, quantity, answer, variant)
        with self.lock:
            hit = self.cache.get(key)
            if hit is not None:
                self.cache.move_to_end(key)
                self.hits += 1
                return hit
            self.misses += 1
        result = self.fn(problem, quantity, answer, variant)
        if len(answer) <= MEMO_MAX_ANSWER:
            with self.lock:
                self.cache[key] = result
                if len(self.cache) > self.size:
                    self.cache.popitem(last=False)
        return result


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
        r = check_one(where["problem"], where["quantity"], f["answer"], int(variant) if variant else None)
    except DeriveError as e:              # unknown problem or quantity, a broken problem file
        return Graded("invalid", 0.0, max_score, feedback=(str(e),), **where), None
    return Graded(r.verdict, r.score * max_score, max_score, tuple(r.diagnosis), tuple(r.feedback),
                  r.interpreted, meaning_key(r) if r.verdict not in ("correct", "invalid") else "",
                  r.problem, r.quantity), r


MAX_GROUP = 1000               # rows of one student's problem graded as one derivation at most


def groups(rows: Iterator[Row]) -> Iterator[list]:
    """Consecutive rows of one student, problem and variant: one derivation each (at most MAX_GROUP)."""
    group, key = [], None
    for row in rows:
        f = row.fields
        k = (f.get("student", ""), f.get("problem", "").strip(), f.get("variant", "").strip())
        if group and (k != key or len(group) >= MAX_GROUP):
            yield group
            group = []
        group.append(row)
        key = k
    if group:
        yield group


def grade_group(rows: list, check_one: Callable) -> list:
    """One student's rows of one problem -> Graded each, graded as one derivation (grading.steps):
    a step consistent with their own earlier mistake is `consistent` with ECF credit; a row without
    max_score is worth the problem's points for it. The first row of a derivation with a mistake
    carries the line naming it. Of two answers to one quantity the last is the step."""
    pairs = [_grade_row(row, check_one) for row in rows]
    graded = [g for g, _ in pairs]
    checker = getattr(check_one, "checker", None)
    last = {r.quantity: i for i, (_, r) in enumerate(pairs) if r is not None}
    if checker is None or not last:
        return graded
    variant = rows[0].fields.get("variant", "").strip()
    given = {pairs[i][1].quantity: graded[i].max_score for i in last.values()
             if rows[i].fields.get("max_score", "").strip()}
    try:
        problem = checker.load(pairs[next(iter(last.values()))][1].problem)
        res = carry_forward(checker, variants.variant_of(problem, int(variant)) if variant else problem,
                            [(pairs[i][1].quantity, pairs[i][1].answer, pairs[i][1]) for i in last.values()],
                            points=given)
    except DeriveError:
        return graded
    for i, ((g, r), row) in enumerate(zip(pairs, rows)):
        if r is None and g.problem and not row.fields.get("max_score", "").strip():
            graded[i] = dataclasses.replace(g, max_score=_points(checker, g.problem, g.quantity, g.max_score))
    steps = {s.quantity: s for s in res.steps}
    for q, i in last.items():
        s, g = steps[q], graded[i]
        graded[i] = dataclasses.replace(g, verdict=s.verdict, score=s.score, max_score=s.max_score,
                                        diagnosis=tuple(s.diagnosis), feedback=tuple(s.feedback))
    if res.first_mistake is not None:
        graded[0] = dataclasses.replace(graded[0], headline=res.headline)
    return graded




def _points(checker, problem: str, quantity: str, default: float) -> float:
    """The problem's points for a quantity (a row that never reached the checker: an empty answer)."""
    try:
        p = checker.load(problem)
        return p.points_of(p.quantity(quantity).name)
    except DeriveError:
        return default


def graded_in_order(rows: Iterator[Row], check_one: Callable, workers: int) -> Iterator[Graded]:
    """Grade rows on `workers` threads, yielding results in input order, at most 4 derivations
    (groups) per worker in flight."""
    ex = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="derive-grade")
    window: deque = deque()
    try:
        for group in groups(rows):
            window.append(ex.submit(grade_group, group, check_one))
            if len(window) >= 4 * max(1, workers):
                yield from window.popleft().result()
        while window:
            yield from window.popleft().result()
    finally:
        ex.shutdown(wait=False, cancel_futures=True)


# ---- the journal ----------------------------------------------------------------------------
class Journal:
    """REPORT.partial.jsonl: a header line with the input's hash, then one Graded per row in order."""

    def __init__(self, report: Path):
        self.path = report.with_name(report.name + ".partial.jsonl")
        self.file = None
        self.synced = 0.0
        self.count = 0                  # rows in the journal

    def resume(self, input_hash: str) -> int:
        """Rows already graded for this input (0 and a fresh journal if none or another input's)."""
        done = 0
        if self.path.is_file():
            with open(self.path, "rb") as f:
                header, good_end = f.readline(), 0
                try:
                    ok = json.loads(header).get("input_sha256") == input_hash
                except (ValueError, AttributeError):
                    ok = False
                if ok:
                    good_end = f.tell()
                    for line in f:
                        if not line.endswith(b"\n"):
                            break                       # the half line a kill left
                        done, good_end = done + 1, good_end + len(line)
            if ok:
                with open(self.path, "r+b") as f:
                    f.truncate(good_end)
                self.file = open(self.path, "a", encoding="utf-8")
                self.count = done
                return done
        self.file = open(self.path, "w", encoding="utf-8")
        self.file.write(json.dumps({"input_sha256": input_hash, "version": JOURNAL_VERSION}) + "\n")
        self._sync(force=True)
        return 0

    def append(self, g: Graded) -> None:
        self.file.write(json.dumps(g.to_json(), ensure_ascii=False) + "\n")
        self.count += 1
        self._sync()

    def _sync(self, force: bool = False) -> None:
        self.file.flush()                              # in the OS now: a SIGKILL loses nothing
        now = time.monotonic()
        if force or now - self.synced >= SYNC_SECONDS:  # on disk: a power cut loses at most 0.2 s
            os.fsync(self.file.fileno())
            self.synced = now

    def close(self) -> None:
        if self.file is not None:
            self._sync(force=True)
            self.file.close()
            self.file = None

    def replay(self) -> Iterator[Graded]:
        with open(self.path, encoding="utf-8") as f:
            f.readline()
            for line in f:
                yield Graded.from_json(json.loads(line))


# ---- the whole batch --------------------------------------------------------------------------
def grade_file(path, output=None, *, totals=None, summary=None, gradescope_out=None, workers: int = 1,
               timeout: float = DEFAULT_TIMEOUT, extra=None, student: str | None = None,
               expected=(), checker: Checker | None = None,
               progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Grade every row of `path` into `output` (default: beside the input, NAME.report.csv).
    `expected` (problem id, quantity) pairs fix the Gradescope tests (see gradescope.results);
    `checker`: a warm Checker to use (and leave open) instead of starting one with `workers`.
    Raises InputError for an unusable input, Interrupted on Ctrl-C (the journal keeps the rows)."""
    src = open_source(path, student)
    output = Path(output) if output else src.path.with_name(src.path.stem + ".report.csv")
    total = sum(1 for _ in rows(src))
    if gradescope_out:
        gradescope.one_student(src.path, (r.fields.get("student", "") for r in rows(src)))
    journal = Journal(output)
    resumed = journal.resume(digest(src.path))
    done, t0 = resumed, time.perf_counter()
    pending = (r for i, r in enumerate(rows(src)) if i >= resumed)
    with checking(workers, timeout, extra, checker) as check_one:
        results = graded_in_order(pending, check_one, workers)
        try:
            for g in results:
                journal.append(g)
                done += 1
                if progress:
                    progress(done, total)
        except KeyboardInterrupt:
            journal.close()
            raise Interrupted(journal.count, total, journal.path) from None
        finally:
            results.close()
            journal.close()
    seconds = time.perf_counter() - t0
    counts, written = _finish(src, journal, output, totals, summary, gradescope_out, expected)
    journal.path.unlink()
    return Outcome(total, counts, resumed, seconds, written)


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
            f.write(html(summ.build(src.path.name)))
        written["summary"] = Path(summary)
    if mine is not None:
        with _atomic(Path(gs)) as f:
            json.dump(gradescope.results(mine, expected), f, indent=2, ensure_ascii=False)
        written["gradescope"] = Path(gs)
    return counts, written


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
