"""Many answers -> a report in input order, per-student totals, a class summary, Gradescope results.

The pipeline: the input (CSV, JSONL or an answer file, see rows.py) is read once to count and hash
it (rows.scan), then once to grade, each row parsed into a typed Row; each result goes to a
journal beside the report (REPORT.partial.jsonl, one line per row with its input columns, in
input order, flushed every 50 ms); last, the journal alone is replayed into the outputs asked for
(outputs.OUTPUTS: report, totals, summary, Gradescope), each written to a temporary file and
renamed into place. Memory holds only the window of rows in flight and the outputs' counters,
whatever the row count. A run that was killed or interrupted leaves the journal; the same command
again checks the input's hash and grades only the rows after those already journalled.
"""
from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from derive.batch import gradescope
from derive.batch import groups as grouped
from derive.batch.checking import Grading, checking
from derive.batch.journal import Graded, Journal
from derive.batch.outputs import OUTPUTS, Report
from derive.batch.rows import Row, Source, open_source, rows, scan
from derive.errors import DeriveError, Interrupted, UsageError
from derive.grading import DEFAULT_TIMEOUT, Checker
from derive.grading.checker import valid_timeout
from derive.grading.verdicts import VERDICTS
from derive.runtime import commandline as cliutil
from derive.runtime.commandline import Terminated

THREADS = 1                    # grading threads per lane (2 made the threads contend: 2 workers 1.49x one, not 1.60x)
WINDOW = 32                    # groups in flight per worker, so one slow check does not idle the others


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


def grade_row(row: Row, check_one: Callable, load: Callable | None = None) -> tuple:
    """One row -> (Graded, the CheckResult, or None when the row never reached the checker); never
    raises for anything a row holds. `load`: problem lookup, for the question's own names."""
    where = _canonical(row.problem, row.quantity, load)
    if row.error:
        return Graded("invalid", 0.0, row.max_score, feedback=(row.error,), **where), None
    try:
        r = check_one(row.problem, row.quantity, row.answer, row.variant)
    except DeriveError as e:              # unknown problem or quantity, a broken problem file
        return Graded("invalid", 0.0, row.max_score, feedback=(str(e),), **where), None
    return Graded(r.verdict, r.score * row.max_score, row.max_score, tuple(r.diagnosis), tuple(r.feedback),
                  r.interpreted, meaning_key(r) if r.verdict not in ("correct", "invalid") else "",
                  r.problem, r.quantity), r


def _canonical(problem: str, quantity: str, load) -> dict:
    """The question's own names (scalar-chain, delta4) for a row that says problem1 or delta^4, so a
    row that never reaches the checker (an empty answer) is counted under the same question."""
    try:
        p = load(problem) if load and problem else None
    except DeriveError:
        p = None
    if p is None:
        return dict(problem=problem, quantity=quantity)
    try:
        return dict(problem=p.id, quantity=p.quantity(quantity).name)
    except DeriveError:
        return dict(problem=p.id, quantity=quantity)


def grade_group(rows: list, grading: Grading) -> list:
    """One student's consecutive rows of one problem -> Graded each, as one derivation (groups.py)."""
    pairs = [grade_row(row, grading.check, grading.load) for row in rows]
    return grouped.carry(rows, pairs, grading.checker, grading.load, grading.ecf)


class Lanes:
    """One thread per worker, each problem's groups sent to one of them (its home lane, the lane
    given the fewest groups so far when the problem is first seen): a thread keeps its worker
    (runtime.pool), so each worker loads the secret points and mutants of about 1/N of the
    problems rather than of all of them. A group goes to the least busy lane instead when its
    home has a full window and another lane is half idle, so a class that is mostly one problem
    still uses every worker."""

    def __init__(self, count: int):
        self.executors = [ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix=f"derive-grade-lane{i}")
                          for i in range(count)]
        self.running = [deque() for _ in range(count)]     # each lane's futures, oldest first
        self.sent = [0] * count
        self.home: dict = {}

    def _busy(self, lane: int) -> int:
        """Groups not yet graded in the lane (its one thread takes them in order)."""
        futures = self.running[lane]
        while futures and futures[0].done():
            futures.popleft()
        return len(futures)

    def submit(self, problem: str, fn: Callable):
        lanes = range(len(self.executors))
        lane = self.home.get(problem)
        if lane is None:
            lane = self.home[problem] = min(lanes, key=self.sent.__getitem__)
        if self._busy(lane) >= WINDOW:
            idlest = min(lanes, key=self._busy)
            if self._busy(idlest) < WINDOW // 2:
                lane = idlest
        future = self.executors[lane].submit(fn)
        self.running[lane].append(future)
        self.sent[lane] += 1
        return future

    def shutdown(self) -> None:
        for ex in self.executors:
            ex.shutdown(wait=False, cancel_futures=True)


def graded_in_order(rows: Iterator[Row], grading: Grading, workers: int) -> Iterator[tuple[Row, Graded]]:
    """Grade rows in `workers` lanes (Lanes), yielding (row, Graded) in input order, one student's
    consecutive rows of a problem together (grade_group), at most WINDOW groups per worker in
    flight. Groups that need no check (unusable rows, or answers already checked) are graded here."""
    lanes = Lanes(workers)
    window: deque = deque()

    def paired(group, graded):
        return list(zip(group, graded, strict=True))

    try:
        for group in grouped.groups(rows):
            if all(row.error or grading.check.knows(row.problem, row.quantity, row.answer, row.variant)
                   for row in group):
                window.append(paired(group, grade_group(group, grading)))
            else:
                window.append(lanes.submit(group[0].problem, lambda g=group: paired(g, grade_group(g, grading))))
            while window and (len(window) >= WINDOW * workers or isinstance(window[0], list)):
                head = window.popleft()
                yield from head if isinstance(head, list) else head.result()
        while window:
            head = window.popleft()
            yield from head if isinstance(head, list) else head.result()
    finally:
        lanes.shutdown()


# ---- the whole batch --------------------------------------------------------------------------
def grade_file(path, output=None, *, totals=None, summary=None, gradescope_out=None, workers: int = 1,
               timeout: float = DEFAULT_TIMEOUT, extra=None, student: str | None = None,
               expected=(), checker: Checker | None = None, force: bool = False,
               progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Grade every row of `path` into `output` (default: beside the input, NAME.report.csv).
    `expected` (problem id, quantity) pairs fix the Gradescope tests (see gradescope.results);
    `checker`: a warm Checker to use (and leave open) instead of starting one with `workers`;
    an existing output is overwritten only if derive wrote it (its OutputKind's signature), or
    with `force`. Raises InputError for an unusable input, OutputError for an output it may not
    write, Interrupted on Ctrl-C or SIGTERM (the journal keeps the rows)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"the number of workers is a whole number ≥ 1, not {workers!r}")
    valid_timeout(timeout)
    src = open_source(path, student)
    output = Path(output) if output else src.path.with_name(src.path.stem + ".report.csv")
    asked = {"report": output, "totals": totals, "summary": summary, "gradescope": gradescope_out}
    targets = [(kind, Path(asked[kind.name])) for kind in OUTPUTS if asked[kind.name]]
    taken: dict = {}
    for kind, out in targets:
        if out.resolve() == src.path.resolve():
            raise UsageError(f"{out} is the input file; write the results to another file")
        if out.resolve() in taken:
            raise UsageError(f"{out}: the {taken[out.resolve()]} and the {kind.name} would be written to the same "
                             "file; give each output its own path")
        taken[out.resolve()] = kind.name
        cliutil.check_output(out, force, kind.signature)          # found now, not after grading every row
    chosen = student.strip() if student is not None and src.kind != "answers" else None   # one of a class's
    seen = scan(src, chosen)
    if gradescope_out:
        chosen = gradescope.one_student(src.path, seen.students, chosen)
    journal = Journal(output)
    try:
        resumed = journal.resume(seen.digest)
    except OSError as e:
        raise UsageError(f"cannot write {journal.path}: {e.strerror or e}") from None
    done, t0 = resumed, time.perf_counter()
    pending = (r for i, r in enumerate(rows(src)) if i >= resumed)
    with checking(workers, timeout, extra, checker, seen.questions) as grading:
        results = graded_in_order(pending, grading, workers)
        try:
            for row, g in results:
                journal.append(row.fields, g)
                done += 1
                if progress:
                    progress(done, seen.total)
        except KeyboardInterrupt as e:
            raise Interrupted(journal.saved(), seen.total, journal.path, isinstance(e, Terminated)) from None
        finally:
            results.close()
            journal.close()
        checked = grading.check.misses
    seconds = time.perf_counter() - t0
    try:
        counts = _finish(src, journal, targets, expected, chosen if gradescope_out else None)
    except KeyboardInterrupt as e:
        raise Interrupted(journal.saved(), seen.total, journal.path, isinstance(e, Terminated)) from None
    except OSError as e:                 # every row is in the journal: the same command finishes the job
        raise DeriveError(f"cannot write the results ({e.strerror or e}{': ' + e.filename if e.filename else ''}); "
                          f"all {journal.count:,} rows are saved in {journal.path}, run the same command "
                          "again to write them") from None
    journal.path.unlink()
    return Outcome(seen.total, counts, resumed, seconds, checked, {kind.name: out for kind, out in targets})


def _finish(src: Source, journal: Journal, targets: list, expected, chosen=None) -> dict:
    """Replay the journal into every output asked for (Gradescope: the rows of `chosen` if given);
    each is renamed into place only when whole."""
    counts = dict.fromkeys(VERDICTS, 0)
    outputs = [kind.make(out, src.columns, src.path, expected, chosen) for kind, out in targets]
    try:
        for fields, g in journal.replay():
            counts[g.verdict] = counts.get(g.verdict, 0) + 1
            for o in outputs:
                o.add(fields, g)
        for o in outputs:
            o.write()
    finally:
        for o in outputs:
            if isinstance(o, Report):
                o.file.discard()
    return counts
