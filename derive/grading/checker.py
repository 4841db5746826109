"""The Checker: a thread-safe front to a pool of warm checking workers, with the caches.

    with derive.Checker(workers=2) as c:
        c.check("problem1", "dL/dw1", "dL/dh3 f3' w3 f1' x").verdict     # 'correct'

Parsing (bounded in length, depth and digits) runs in the calling thread when the Checker settles
plain answers there (inline), else in the worker; building and evaluating the answer run in a
worker under a hard wall-clock limit. Problems are read and
derived again when their file changes (caches are keyed by path and modification time).
"""
from __future__ import annotations

import math
import os
import threading
import time

from derive.errors import (
    AnswerError,
    ProblemSpecError,
    UnknownError,
    UnsupportedError,
    UsageError,
)
from derive.grading.job import Preparse, job, parsed_job, prepare, settle
from derive.grading.key import ProblemKey, key_of, resolve
from derive.grading.read import parsed_readings, plain
from derive.grading.result import CheckResult
from derive.problem.index import problem_dirs
from derive.problem.load import Problem, load
from derive.runtime.limits import CHECK_TIMEOUT
from derive.runtime.pool import Pool
from derive.runtime.workers import MAX_JOBS, MAX_RSS_MB, Crashed, Ok, Timeout
from derive.verify.solve import Solution, solve

DEFAULT_TIMEOUT = CHECK_TIMEOUT        # seconds of wall clock per check
MAX_TIMEOUT = 3600.0
WATCH_SECONDS = 1.0      # a problems folder is looked at again (for a new or renamed file) at most this often
RAISED = (UnknownError, ProblemSpecError, UnsupportedError)   # the worker's errors that are the caller's


def valid_timeout(t) -> float:
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0 < t <= MAX_TIMEOUT:
        raise UsageError(f"the timeout is a number of seconds above 0 and at most {MAX_TIMEOUT:g}, not {t!r}")
    return float(t)


def folders(problems) -> tuple:
    """Problems folders as a tuple of strings: one folder, or any iterable of them."""
    if problems is None:
        return ()
    if isinstance(problems, (str, os.PathLike)):
        return (os.fspath(problems),)
    return tuple(os.fspath(d) for d in problems)


class Checker:
    """Checks answers with `workers` warm processes; safe to call from many threads at once."""

    def __init__(self, workers: int = 1, problems=(), timeout: float = DEFAULT_TIMEOUT, *,
                 max_jobs: int = MAX_JOBS, max_rss_mb: float = MAX_RSS_MB, prefork: bool = True,
                 inline: bool | None = None):
        """prefork: start the workers' parent process now, while the caller is likely single-threaded
        (see runtime.pool), rather than at the first check. inline: a plain answer (read.plain: small,
        bounded by its size) is first tried in the calling thread, and a `correct` there is the
        result (no round trip to a worker); every other verdict comes from a worker, under the hard
        time limit. Default: with one worker (a server or a batch with several workers spreads its
        checks over them instead)."""
        self.inline = workers == 1 if inline is None else bool(inline)
        self.problems = folders(problems)
        self.timeout = valid_timeout(timeout)
        self.pool = Pool(workers, max_jobs=max_jobs, max_rss_mb=max_rss_mb)
        if prefork:
            try:
                self.pool.forker.start()
            except OSError:
                pass                         # retried on first use
        self._solutions: dict[ProblemKey, Solution] = {}
        self._paths: dict[tuple, tuple] = {}       # (name, folders) -> (path, folders' stamp, looked at)
        self._problems: dict[ProblemKey, Problem] = {}
        self._unprepared: set = set()                       # keys whose reference failed here (inline)
        self._prepared: set = set()                         # (key, quantity) prepared here: values are warm
        self._lock = threading.Lock()

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (also done at exit)."""
        self.pool.close()

    def load(self, problem) -> Problem:
        """A problem by id, alias, file path, or a Problem (as derive.load, with this checker's folders)."""
        return self._load(problem, self.problems)

    def _load(self, problem, dirs: tuple) -> Problem:
        """derive.load, the file as it is now."""
        return problem if isinstance(problem, Problem) else self._resolve(self._key(problem, dirs))

    def _key(self, problem, dirs: tuple, variant: int | None = None) -> ProblemKey:
        """The key of a problem as its file is now: one stat of the file per call. Which file a name
        is in is remembered; its folders are looked at again at most once per WATCH_SECONDS."""
        if isinstance(problem, Problem):
            return key_of(problem, variant)
        name, now = str(problem), time.monotonic()
        hit = self._paths.get((name, dirs))
        if hit is not None and now - hit[2] >= WATCH_SECONDS:
            if _folders_stamp(dirs) != hit[1]:
                hit = None
            else:
                hit = self._paths[(name, dirs)] = (hit[0], hit[1], now)
        if hit is not None:
            try:
                key = ProblemKey(hit[0], os.stat(hit[0]).st_mtime_ns, variant)
                p = self._resolve(ProblemKey(key.path, key.mtime_ns))
                if name in (p.id, p.alias, key.path):
                    return key
            except (OSError, ProblemSpecError):
                pass                         # gone, broken or renamed: look it up again
        stamp = _folders_stamp(dirs)
        key = key_of(load(problem, dirs), variant)
        with self._lock:
            if len(self._paths) > 4096:
                self._paths.clear()
            self._paths[(name, dirs)] = (key.path, stamp, now)
        return key

    def _resolve(self, key: ProblemKey) -> Problem:
        """resolve(key), remembered per key (an edited file has a new key)."""
        p = self._problems.get(key)
        if p is None:
            p = resolve(key)
            with self._lock:
                if len(self._problems) > 4096:
                    self._problems.clear()
                self._problems[key] = p
        return p

    def solve(self, problem) -> Solution:
        """derive.solve, cached until the problem's file changes."""
        key = self._key(problem, self.problems)
        with self._lock:
            sol = self._solutions.get(key)
        if sol is None:
            sol = solve(self._resolve(key))
            with self._lock:
                self._solutions[key] = sol
        return sol

    def check(self, problem, quantity: str, answer: str, format: str = "auto", *, timeout: float | None = None,
              variant: int | None = None, reveal: bool = False) -> CheckResult:
        """Check one answer. Unknown problems and quantities raise UnknownError; everything about the
        answer itself comes back as a CheckResult, never as an exception. Feedback names a mistake
        by its role ("a factor is missing: the local derivative at h1"); with `reveal` (or the
        problem's `reveal = true`) it also shows the expression concerned."""
        return self._check(problem, self.problems, quantity, answer, format, timeout, variant, reveal)

    def _check(self, problem, dirs, quantity, answer, format, timeout, variant, reveal) -> CheckResult:
        seconds = self.timeout if timeout is None else valid_timeout(timeout)
        key = self._key(problem, dirs, variant)
        return self.run(key, self._resolve(key).quantity(quantity), answer, format, seconds, reveal=reveal)

    def _settled(self, key: ProblemKey, qname: str, answer: str, fmt: str, reveal: bool, trees) -> dict | None:
        """job.settle in this thread (the reference prepared here once, as a worker prepares it); None
        when the answer is not right or anything goes wrong: the worker then grades it. A problem whose
        reference cannot be prepared here is not tried here again (the worker reports why)."""
        if (key, qname) not in self._prepared:      # (only a warm-up: settle computes what it lacks)
            try:
                prepare(key, qname)
            except Exception:     # noqa: BLE001 — the worker prepares it again and reports what went wrong
                with self._lock:
                    if len(self._unprepared) > 4096:
                        self._unprepared.clear()
                    self._unprepared.add(key)
                return None
            with self._lock:
                if len(self._prepared) > 4096:
                    self._prepared.clear()
                self._prepared.add((key, qname))
        try:
            return settle(key, qname, answer, fmt, reveal, trees)
        except Exception:     # noqa: BLE001 — the worker grades it and reports what is wrong
            return None

    def run(self, key: ProblemKey, q, answer: str, format: str, seconds: float, job_fn=None,
            prepare_fn=None, reveal: bool = False) -> CheckResult:
        """One answer to quantity `q` of the problem `key` names, graded in a worker by `job_fn`
        (default: job.job) after `prepare_fn` (job.prepare), both called as fn(key, q.name, ...)."""
        job_fn, prepare_fn = job_fn or job, prepare_fn or prepare
        p = self._resolve(key)
        if not isinstance(answer, str):
            return CheckResult(p.id, q.name, repr(answer), "invalid", ("syntax",),
                               (f"an answer is text (a str), not {type(answer).__name__}",))
        base = dict(problem=p.id, quantity=q.name, answer=answer)
        if not q.kind.graded:
            return CheckResult(**base, verdict="undecided", feedback=(q.kind.ungraded_feedback(q),))
        if job_fn is job and not self.inline:
            job_fn = parsed_job           # the bounded parse in the worker too: this thread only sends
        else:
            try:
                tree = q.kind.grade(Preparse(p, answer, format))
            except AnswerError as e:
                return CheckResult(**base, **Preparse.invalid(e))
            if self.inline and job_fn is job and tree is not None and key not in self._unprepared \
                    and plain(p, q, tree):
                fields = self._settled(key, q.name, answer, format, bool(reveal), parsed_readings(p, answer, tree))
                if fields is not None:
                    return CheckResult(**base, **fields)
        if self.pool.forker.pid is None and threading.active_count() == 1:
            try:          # the workers' parent is forked from this process next: it inherits the reference
                prepare_fn(key, q.name)
            except Exception:
                pass      # the worker prepares it again and reports what went wrong
        out = self.pool.run(job_fn, (key, q.name, answer, format, bool(reveal)), timeout=seconds,
                            prepare=(prepare_fn, (key, q.name)))
        if isinstance(out, Ok) and isinstance(out.value, dict):
            return CheckResult(**base, **out.value)
        if isinstance(out, Timeout):
            return CheckResult(**base, verdict="undecided", diagnosis=("timeout",),
                               feedback=(f"the check took longer than {out.seconds:g} s and was stopped; "
                                         "write the answer in a simpler form",))
        if isinstance(out, Crashed) and isinstance(out.error, RAISED):
            raise out.error
        reason = out.reason if isinstance(out, Crashed) else ""
        return CheckResult(**base, verdict="undecided", **_failure(reason))


def _failure(reason: str) -> dict:
    """What a student reads when the check itself failed: what to do, never a Python exception's name."""
    if "MemoryError" in reason:
        return dict(diagnosis=("too_complex",), feedback=(
            "the answer would need more memory than a check may use (a huge size or power); "
            "write it in a simpler form",))
    if "RecursionError" in reason:
        return dict(diagnosis=("too_complex",), feedback=(
            "the answer is nested too deeply to evaluate; write it in a simpler form",))
    return dict(feedback=("the answer could not be evaluated; write it in a simpler form",))


def _folders_stamp(dirs: tuple):
    try:
        return tuple(os.stat(d).st_mtime_ns for d in problem_dirs(dirs))
    except OSError:
        return None


_default: Checker | None = None
_default_lock = threading.Lock()


def default_checker() -> Checker:
    """The Checker behind derive.check: one worker, created on first use."""
    global _default
    with _default_lock:
        if _default is None or _default.pool.closed:
            _default = Checker(prefork=False)       # forked at the first check, with its reference
        return _default


def check(problem, quantity: str, answer: str, format: str = "auto", *, timeout: float = DEFAULT_TIMEOUT,
          extra=None, reveal: bool = False) -> CheckResult:
    """Check one answer with the default Checker; `extra`: problems folders (one, or any iterable)."""
    return default_checker()._check(problem, folders(extra), quantity, answer, format,
                                    DEFAULT_TIMEOUT if timeout is None else timeout, None, reveal)
