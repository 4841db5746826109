"""A whole derivation: step-level verdicts, the first wrong step, and error carried forward (ECF).

    res = check_submission("problem6", {"delta4": "f - y", "delta3": "sigma'(Z2) ⊙ (W3^T (f - y))"})
    res.first_mistake                     # 'delta4'
    [s.verdict for s in res.steps]        # ['incorrect', 'consistent']

Each answer is first checked alone against the truth (Checker.run, one worker job each, under the
hard time limit). Then one job (ecf.ecf_job) checks the wrong ones in the student's own world: a
step that is right given their earlier answers is `consistent` and earns `ecf` of its points. A
mistake is charged once: where it is made if that step carries points, otherwise (a gradient the
problem does not ask, such as dL/dh1) at the first step with points that carries it forward.
"""
from __future__ import annotations

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from derive.errors import UnknownError, UsageError
from derive.grading.checker import (
    MAX_TIMEOUT,
    RAISED,
    Checker,
    default_checker,
    valid_timeout,
)
from derive.grading.ecf import (
    ancestors,
    ecf_job,
    ecf_prepare,
    node_of,
    step_job,
    step_node,
    step_prepare,
)
from derive.grading.key import key_of
from derive.grading.reference import reference
from derive.grading.result import CheckResult
from derive.problem import kinds
from derive.problem.load import Quantity
from derive.runtime.workers import Crashed, Ok


@dataclass(frozen=True)
class StepResult:
    quantity: str
    answer: str
    verdict: str                 # correct | consistent | incorrect | invalid | undecided
    score: float
    max_score: float
    diagnosis: tuple = ()
    feedback: tuple = ()
    follows: tuple = ()          # earlier quantities whose student answers it was graded against
    interpreted: str = ""
    asked: bool = True           # False: a gradient the problem does not ask (no points)

    @property
    def correct(self) -> bool:
        return self.verdict == "correct"

    def to_dict(self) -> dict:
        return {"quantity": self.quantity, "answer": self.answer, "verdict": self.verdict,
                "score": self.score, "max_score": self.max_score, "diagnosis": list(self.diagnosis),
                "feedback": list(self.feedback), "follows": list(self.follows)}


@dataclass(frozen=True)
class SubmissionResult:
    problem: str
    steps: tuple                 # StepResult, in the problem's order
    first_mistake: str | None    # the first step (in that order) that is incorrect
    headline: str                # "the first mistake is in delta4: ...; later steps are consistent with it"
    ecf: float                   # the share of a step's points a consistent step earns

    @property
    def score(self) -> float:
        return _round(sum(s.score for s in self.steps))

    @property
    def max_score(self) -> float:
        return _round(sum(s.max_score for s in self.steps))

    def to_dict(self) -> dict:
        """Exactly what `derive check PROBLEM --submission FILE --json` prints."""
        return {"problem": self.problem, "score": self.score, "max_score": self.max_score,
                "first_mistake": self.first_mistake, "steps": [s.to_dict() for s in self.steps]}


def _round(x: float) -> float:
    return float(f"{x:.10g}")


def valid_ecf(ecf) -> float:
    if isinstance(ecf, bool) or not isinstance(ecf, (int, float)) or not (math.isfinite(ecf) and 0 <= ecf <= 1):
        raise UsageError(f"the ECF credit is a share of a step's points from 0 to 1, not {ecf!r}")
    return float(ecf)


def _pairs(answers) -> list:
    items = list(answers.items()) if isinstance(answers, dict) else list(answers)
    for it in items:
        if not (isinstance(it, (tuple, list)) and len(it) == 2 and isinstance(it[0], str)):
            raise UsageError(f"answers are a dict or a list of (quantity, answer) pairs, not {it!r}")
    return [(q, a) for q, a in items]


def check_submission(problem, answers, ecf: float | None = None, checker: Checker | None = None, *,
                     format: str = "auto", timeout: float | None = None) -> SubmissionResult:
    """Grade the answers one student gave to one problem as one derivation (see the module doc).
    `answers`: {quantity: answer} or [(quantity, answer)]. Unknown problems and quantities raise
    UnknownError, a quantity answered twice UsageError."""
    checker = checker or default_checker()
    p = checker.load(problem)
    derivation = checker.solve(p).derivation
    _unique([_quantity(p, derivation, name) for name, _ in _pairs(answers)])
    pairs = _pairs(answers)
    with ThreadPoolExecutor(max_workers=max(1, min(checker.pool.size, len(pairs))),
                            thread_name_prefix="derive-steps") as ex:      # one answer per worker at a time
        results = list(ex.map(lambda qa: check_answer(checker, p, qa[0], qa[1], format, timeout=timeout), pairs))
    checked = [(name, answer, c) for (name, answer), c in zip(pairs, results)]
    res = carry_forward(checker, p, checked, ecf, format=format, timeout=timeout)
    return unanswered(p, res)


def unanswered(p, res: SubmissionResult) -> SubmissionResult:
    """The result with every auto-graded quantity the student did not answer as a step worth 0."""
    done = {s.quantity for s in res.steps}
    missing = [q for q in p.quantities if q.graded and q.name not in done]
    if not missing:
        return res
    rank = {q.name: i for i, q in enumerate(p.quantities)}
    steps = list(res.steps)
    for q in missing:
        at = next((k for k, s in enumerate(steps) if rank.get(s.quantity, len(rank)) > rank[q.name]), len(steps))
        steps.insert(at, StepResult(q.name, "", "invalid", 0.0, p.points_of(q.name), (),
                                    ("no answer given",)))
    line = res.headline
    if res.first_mistake is None:
        line = f"no mistakes in the steps answered; not answered: {_and([q.name for q in missing])}"
    return dataclasses.replace(res, steps=tuple(steps), headline=line)


def check_answer(checker: Checker, problem, name: str, answer: str, format: str = "auto", *,
                 timeout: float | None = None, variant: int | None = None) -> CheckResult:
    """One answer to an asked quantity, or to a gradient of the derivation the problem does not ask
    (dL/dh1): a CheckResult against the truth."""
    p = checker.load(problem)
    try:
        p.quantity(name)
    except UnknownError:
        seconds = checker.timeout if timeout is None else valid_timeout(timeout)
        q = _quantity(p, reference(key_of(p)).derivation, name)
        return checker.run(key_of(p, variant), q, answer, format, seconds, job_fn=step_job, prepare_fn=step_prepare)
    return checker.check(p, name, answer, format, timeout=timeout, variant=variant)


def carry_forward(checker: Checker, problem, checked, ecf: float | None = None, *, format: str = "auto",
                  timeout: float | None = None, points: dict | None = None, memo=None) -> SubmissionResult:
    """Step-level verdicts and scores from answers already checked alone: `checked` is
    [(quantity, answer, CheckResult)], one per quantity; `points` overrides the problem's points.
    `memo`: a callable standing in for ecf_run (a batch's memo of identical derivations)."""
    seconds = checker.timeout if timeout is None else valid_timeout(timeout)
    key = key_of(checker.load(problem))
    ref = reference(key)                # the workers' derivation, not checker.solve's verified copy:
    p, derivation = ref.problem, ref.derivation     # a batch derived it here ahead already
    share = valid_ecf(ecf if ecf is not None else p.ecf if p.ecf is not None else 1.0)
    entries = [(_quantity(p, derivation, n), a, c) for n, a, c in checked]
    _unique([q for q, _, _ in entries])
    entries = _ordered(p, derivation, entries)
    ecf_out, note = {}, ""
    if any(c.verdict == "incorrect" for _, _, c in entries):
        # undecided answers (a timeout among them) have no value to carry: the reference stands in
        used = [(q, a, c) for q, a, c in entries if isinstance(a, str) and c.verdict in ("correct", "incorrect")]
        todo = tuple((q.name, a, c.verdict) for q, a, c in used)
        if _may_follow(key, p, derivation, [q for q, _, _ in used]):
            ecf_out, note = (memo or ecf_run)(checker, key, todo, format, seconds)
    return _score(p, entries, ecf_out, note, share, points or {})


_ANCESTORS: dict = {}           # (ProblemKey, node) -> ancestors(...): a batch asks the same few


def _may_follow(key, p, derivation, qs) -> bool:
    """Whether one of these steps builds on another: if none does, ecf_job finds nothing to carry
    (every step's `follows` is empty), so the job is not run."""
    if len(qs) < 2 or any(q.kind == kinds.JACOBIAN for q in qs):
        return len(qs) > 1
    nodes = {n for n in (node_of(p, q) for q in qs) if n is not None}
    for n in nodes:
        up = _ANCESTORS.get((key, n))
        if up is None:
            if len(_ANCESTORS) > 4096:
                _ANCESTORS.clear()
            up = _ANCESTORS[key, n] = frozenset(ancestors(p, derivation, n))
        if up & nodes:
            return True
    return False


def ecf_run(checker: Checker, key, todo: tuple, format: str, seconds: float) -> tuple[dict, str]:
    """One ECF job: (what ecf_job found per step, '') or ({}, the note saying it ran out of time).
    A pure function of (key, todo, format) whenever the note is ''."""
    out = checker.pool.run(ecf_job, (key, todo, format), timeout=min(MAX_TIMEOUT, seconds * (1 + len(todo))),
                           prepare=(ecf_prepare, (key,)))
    if isinstance(out, Ok) and isinstance(out.value, dict):
        return out.value, ""
    if isinstance(out, Crashed) and isinstance(out.error, RAISED):
        raise out.error
    return {}, "whether it follows from your earlier answers could not be checked in time"


def _unique(qs) -> None:
    seen = set()
    for q in qs:
        if q.name in seen:
            raise UsageError(f"{q.name} is answered twice; give one answer per quantity")
        seen.add(q.name)


def _quantity(p, derivation, name: str) -> Quantity:
    """An asked quantity, or a gradient of the derivation the student defined (dL/dh1)."""
    if not isinstance(name, str):
        raise UsageError(f"a quantity is named by a str, not {type(name).__name__}")
    try:
        return p.quantity(name)
    except UnknownError:
        node = step_node(p, derivation, name)
    return Quantity(p.adjoint_names[node], kinds.GRADIENT, p.output, node)


def _ordered(p, derivation, entries) -> list:
    """The problem's order; a gradient it does not ask goes just before the first asked one built on it."""
    order = {q.name: 2 * i + 1 for i, q in enumerate(p.quantities)}
    asked_nodes = [(order[q.name], node_of(p, q)) for q, *_ in entries if q.name in order and node_of(p, q)]

    def rank(q):
        if q.name in order:
            return order[q.name]
        users = [i for i, node in asked_nodes if q.wrt in ancestors(p, derivation, node)]
        return min(users) - 1 if users else 2 * len(order) + 1
    return sorted(entries, key=lambda e: rank(e[0]))


def _score(p, entries, ecf_out, note, share, points_given) -> SubmissionResult:
    steps, origins_of = [], {}
    verdicts = {}
    for q, _, c in entries:
        info = ecf_out.get(q.name, {})
        verdicts[q.name] = "consistent" if info.get("consistent") else c.verdict

    def origins(name, depth=0) -> set:
        """The steps where the mistakes a step carries were made."""
        if name not in origins_of:
            if verdicts.get(name) == "incorrect":
                origins_of[name] = {name}
            else:
                origins_of[name] = set()
                if depth < 50:
                    for f in ecf_out.get(name, {}).get("follows", ()):
                        origins_of[name] |= origins(f, depth + 1)
        return origins_of[name]

    charged = set()
    for q, answer, c in entries:
        info = ecf_out.get(q.name, {})
        asked = any(q.name == a.name for a in p.quantities)
        points = points_given.get(q.name, p.points_of(q.name) if asked else 0.0)
        verdict, follows = verdicts[q.name], ()
        diagnosis, feedback = tuple(c.diagnosis), tuple(c.feedback)
        score = points if verdict == "correct" else 0.0
        if verdict == "correct" and points and info.get("follows") and not origins(q.name) <= charged:
            own = origins(q.name)          # right in form, but carries a mistake no step has paid for
            follows, verdict, score = tuple(info["follows"]), "consistent", 0.0
            feedback = (f"right in terms of your {_and(follows)}, which carries a mistake",
                        f"the mistake in {_and(sorted(own - charged))} carries no points of its own, "
                        "so it costs this step's")
            charged |= own
        elif verdict == "consistent":
            follows = tuple(info["follows"])
            own = origins(q.name)
            feedback = (f"wrong against the true {q.name}, but right given your {_and(follows)}: "
                        f"the error is carried forward",) + tuple(f"against the truth: {f}" for f in c.feedback[:1])
            if own <= charged or points == 0:
                score = share * points
            else:
                feedback += (f"the mistake in {_and(sorted(own - charged))} carries no points of its own, "
                             f"so it costs this step's",)
                charged |= own
        elif verdict == "incorrect":
            if points:
                charged.add(q.name)
            if info.get("consistent") is False:
                diagnosis = diagnosis or tuple(info["diagnosis"])
                world = info["feedback"][0] if info["feedback"] else "it differs from what they imply"
                feedback += (f"it does not follow from your {_and(info['follows'])} either: {world}",)
            elif note:
                feedback += (note,)
        steps.append(StepResult(q.name, answer if isinstance(answer, str) else c.answer, verdict,
                                _round(score), points, diagnosis, feedback, follows, c.interpreted, asked))
    return SubmissionResult(p.id, tuple(steps), *_headline(steps, origins), share)


def _and(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _headline(steps, origins) -> tuple:
    wrong = [s for s in steps if s.verdict == "incorrect"]
    if not wrong:
        open_ = [s.quantity for s in steps if s.verdict in ("invalid", "undecided")]
        line = "no mistakes: every step is right" if not open_ else \
            f"no mistakes found, but {_and(open_)} could not be graded"
        return None, line
    first = wrong[0]
    reason = first.feedback[0] if first.feedback else "it is wrong"
    carried = [s for s in steps if s.verdict == "consistent" and first.quantity in origins(s.quantity)]
    line = f"the first mistake is in {first.quantity}: {reason}"
    if carried and len(wrong) == 1:
        line += "; later steps are consistent with it"
    elif carried:
        line += f"; {len(carried)} later step{'s are' if len(carried) > 1 else ' is'} consistent with it"
    if len(wrong) > 1:
        line += f"; the next mistake is in {wrong[1].quantity}"
    return first.quantity, line
