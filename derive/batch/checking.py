"""The one place `derive grade` calls the checker: a Checker (warm workers derived ahead), the
memo of identical answers, the memo of identical derivations (ECF) and the problem lookups, all
bounded, handed to the run as one Grading record."""
from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from derive.errors import DeriveError
from derive.grading import DEFAULT_TIMEOUT, Checker
from derive.grading.job import prepare
from derive.grading.key import key_of
from derive.grading.steps import check_answer, ecf_run
from derive.problem.load import load as load_problem

MEMO_SIZE = 8192               # distinct (question, answer) results remembered
MEMO_MAX_ANSWER = 2000         # characters: longer answers are refused by the parser anyway


@dataclass(frozen=True)
class Grading:
    """What grading a batch's rows needs: `check` (problem, quantity, answer, variant) -> CheckResult,
    memoised; the Checker and the problem lookup behind it, and the ECF memo, for grading a
    student's rows as one derivation (groups.py)."""

    check: "Memo"
    checker: Checker
    load: Callable
    ecf: "EcfMemo"


@contextlib.contextmanager
def checking(workers: int = 1, timeout: float = DEFAULT_TIMEOUT, extra=None, checker: Checker | None = None,
             questions=()):
    """The one place that calls the checker: yields a Grading backed by `checker`, or by a new Checker
    with `workers` processes (closed on exit) whose workers start with the references of
    `questions` (problem, quantity) already derived."""
    with contextlib.ExitStack() as stack:
        ahead = {}
        if checker is None:
            ahead = _derive_ahead(questions, extra)
            checker = stack.enter_context(Checker(workers=workers, problems=extra or (), timeout=timeout,
                                                  inline=False))     # every check in a worker: they scale
        load = _Problems(checker, known=ahead)
        memo = Memo(lambda problem, quantity, answer, variant=None: check_answer(
            checker, load(problem), quantity, answer, timeout=timeout, variant=variant))
        yield Grading(memo, checker, load, EcfMemo())


def _derive_ahead(questions, extra) -> dict:
    """Derive each asked problem once here, before the Checker forks its workers from this process,
    so that every worker (and every replacement of a worker killed on a timeout) starts warm
    instead of deriving the whole catalogue again. Only an optimisation: failures are left to the
    worker, which reports them per row. Returns the problems found, by the name the rows use."""
    problems = {}
    for name, qname in questions:
        try:
            if name not in problems:
                problems[name] = None                  # an unknown name is looked up once
                problems[name] = load_problem(name, extra)
            if problems[name] is not None:
                prepare(key_of(problems[name]), problems[name].quantity(qname).name)
        except Exception:                 # noqa: BLE001 - see above: the check itself will say why
            continue
    return {name: p for name, p in problems.items() if p is not None}


class _Problems:
    """Problem names -> Problem, looked up once per name (a lookup reads the catalogue folder)."""

    def __init__(self, checker: Checker, size: int = 1024, known: dict | None = None):
        self.checker, self.size, self.known = checker, size, dict(known or {})

    def __call__(self, name: str):
        hit = self.known.get(name)
        if hit is None:
            try:
                hit = self.checker.load(name)
            except DeriveError as e:
                hit = e
            if len(self.known) < self.size:
                self.known[name] = hit
        if isinstance(hit, DeriveError):
            raise hit
        return hit


class Memo:
    """Identical answers to one question get one check: a class types the same few spellings many
    times, and a check is a pure function of (problem, quantity, answer, variant). Bounded (LRU);
    answers too long to be valid are not kept. Safe to call from several threads: a second thread
    asking what a first is still checking waits for that check instead of running it again."""

    def __init__(self, fn: Callable, size: int = MEMO_SIZE):
        self.fn, self.size = fn, size
        self.cache: OrderedDict = OrderedDict()
        self.running: dict = {}                     # key -> Event set when its first caller is done
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def knows(self, problem: str, quantity: str, answer: str, variant: int | None = None) -> bool:
        return (problem, quantity, answer, variant) in self.cache

    def __call__(self, problem: str, quantity: str, answer: str, variant: int | None = None):
        return self._lookup((problem, quantity, answer, variant), lambda: self.fn(problem, quantity, answer, variant),
                            lambda result: len(answer) <= MEMO_MAX_ANSWER)

    def _lookup(self, key, compute: Callable, keep: Callable):
        mine = False                    # this thread computes key: it must wake the waiters, whatever
        try:                            # happens (Ctrl-C lands anywhere in the main thread)
            while True:
                with self.lock:
                    hit = self.cache.get(key)
                    if hit is not None:
                        self.cache.move_to_end(key)
                        self.hits += 1
                        return hit
                    wait = self.running.get(key)
                    if wait is None:
                        mine = True
                        self.running[key] = threading.Event()
                        self.misses += 1
                        break
                wait.wait()             # then the cache has it, or (not kept) this thread computes
            result = compute()
            if keep(result):
                with self.lock:
                    self.cache[key] = result
                    if len(self.cache) > self.size:
                        self.cache.popitem(last=False)
            return result
        finally:
            if mine:
                with self.lock:
                    done = self.running.pop(key, None)
                if done is not None:
                    done.set()


class EcfMemo(Memo):
    """Identical derivations get one ECF job: many students make the same mistake in the same
    steps, and the job is a pure function of (problem key, the steps' answers and verdicts, format).
    A job that ran out of time is not kept. Stands in for steps.ecf_run."""

    def __init__(self, size: int = MEMO_SIZE):
        super().__init__(ecf_run, size)

    def __call__(self, checker, key, todo: tuple, format: str, seconds: float):
        return self._lookup((key, todo, format), lambda: self.fn(checker, key, todo, format, seconds),
                            lambda result: not result[1] and all(len(a) <= MEMO_MAX_ANSWER for _, a, _ in todo))
