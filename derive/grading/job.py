"""The worker's job: one answer against the reference -> the fields of a CheckResult.

Runs in a worker process (runtime/pool.py) under the hard time limit; `prepare` (deriving the
reference, cached per problem file version) runs first, untimed.
"""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.errors import AnswerError
from derive.expr import matrix as sy
from derive.grading.decide import decide, first_point, warm
from derive.grading.index import IndexForm
from derive.grading.key import ProblemKey
from derive.grading.read import (
    AnswerBuilder,
    indices,
    interpreted,
    not_allowed,
    not_yet,
    own_symbol,
    parse_answer,
    readings,
    shape_pieces,
)
from derive.grading.reference import reference
from derive.grading.verdicts import INVALID_CODES
from derive.notation import display
from derive.notation import parser as mp
from derive.notation.tokens import ONES
from derive.grading.shapes import grade_shape
from derive.notation.echo import tree_latex
from derive.verify.properties import grade as grade_properties


def prepare(key: ProblemKey, qname: str) -> None:
    """Trusted, untimed: derive the reference and its values at the usual decision points."""
    ref = reference(key)
    r = ref.result(qname)
    r.quantity.kind.grade(_Warm(ref, r))


class _Warm:
    """Only answers decided at points have reference values to compute ahead."""

    def __init__(self, ref, r):
        self.ref, self.r = ref, r

    def equivalence(self):
        warm(self.ref, self.r)

    def shape(self):
        pass

    properties = prose = shape


def job(key: ProblemKey, qname: str, answer: str, fmt: str, reveal: bool = False) -> dict:
    """The checked verdict as CheckResult fields."""
    ref = reference(key)
    r = ref.result(qname)
    return r.quantity.kind.grade(Grader(ref, r, answer, fmt, reveal or ref.problem.reveal))


class Preparse:
    """The bounded parse alone (kinds.Kind.grade picks the method): the tree of an expression answer,
    None for prose; AnswerError (syntax, too_complex) for an answer that cannot be read."""

    def __init__(self, problem, answer, fmt):
        self.p, self.answer, self.fmt = problem, answer, fmt

    def equivalence(self):
        return parse_answer(self.p, self.answer, self.fmt)

    properties = equivalence

    def shape(self):
        shape_pieces(self.p, self.answer, self.fmt)

    def prose(self):
        return None

    @staticmethod
    def invalid(e: AnswerError) -> dict:
        """The CheckResult fields of an answer that cannot be read."""
        return dict(verdict="invalid", diagnosis=(e.code,), feedback=(e.message,), offset=e.offset)


def parsed_job(key: ProblemKey, qname: str, answer: str, fmt: str, reveal: bool = False) -> dict:
    """The bounded parse, then the job: what the Checker gives when it parses in the calling thread
    (an unreadable answer is invalid with the parser's message), done here instead."""
    ref = reference(key)
    r = ref.result(qname)
    try:
        r.quantity.kind.grade(Preparse(ref.problem, answer, fmt))
    except AnswerError as e:
        return Preparse.invalid(e)
    return job(key, qname, answer, fmt, reveal)


def settle(key: ProblemKey, qname: str, answer: str, fmt: str, reveal: bool = False, trees=None) -> dict | None:
    """The job's result when it is `correct`, else None: a right answer is settled without the
    diagnosis a wrong one needs (the first point that differs ends the attempt), so the caller
    (checker.Checker, inline) can run it for a plain answer and leave every other verdict to a
    worker. A `correct` result here is the job's own, field for field (tests/grading)."""
    ref = reference(key)
    r = ref.result(qname)
    grader = Grader(ref, r, answer, fmt, reveal or ref.problem.reveal, settle=True)
    grader.trees = trees                       # the readings, when the caller has them (read.parsed_readings)
    out = r.quantity.kind.grade(grader)
    return out if out.get("verdict") == "correct" else None


class Grader:
    """What a quantity kind grades with (kinds.Kind.grade picks one of these). With `settle` only a
    right answer's result is worth anything: the natural reading alone is tried, and the decision
    stops at the first point that differs (see settle)."""

    def __init__(self, ref, r, answer: str, fmt: str, reveal: bool = False, settle: bool = False):
        self.ref, self.r, self.answer, self.fmt, self.reveal = ref, r, answer, fmt, reveal
        self.settle, self.trees = settle, None

    def shape(self) -> dict:
        if self.settle:
            return {}
        return grade_shape(self.ref, self.r, self.answer, self.fmt, self.reveal)

    def prose(self) -> dict:
        return dict(verdict="undecided", feedback=(self.r.quantity.kind.ungraded_feedback(self.r.quantity),))

    def equivalence(self) -> dict:
        return self._expression(by_properties=False)

    def properties(self) -> dict:
        return self._expression(by_properties=True)

    def _expression(self, by_properties: bool) -> dict:
        """Every reading of the answer: the natural one decides unless it is wrong and exactly another
        reading is right (then the answer is right, and the feedback says how it was read)."""
        try:
            trees = self.trees or readings(self.ref.problem, self.answer, self.fmt)
        except AnswerError as e:
            return _error(e)
        first = self._reading(trees[0][0], by_properties)
        others = [(tree, notes, False) for tree, notes in trees[1:]]
        if first.get("diagnosis") == ("shape",) and not any(   # γ x̂, a row against a matrix: numpy's
                isinstance(n, mp.Name) and n.id.startswith(ONES) for n in mp.walk(trees[0][0])):   # broadcasting
            others.append((*trees[0], True))    # (not beside a ones-vector: γ 1ᵀ ∂ℓ/∂y is a column sum)
        if not others or (self.settle and first["verdict"] != "correct"):
            return first
        if first["verdict"] != "correct" and not by_properties:
            for tree, notes, broadcasting in others:
                if self._reading(tree, by_properties, False, broadcasting)["verdict"] == "correct":
                    other = self._reading(tree, by_properties, broadcasting=broadcasting)
                    return {**other, "feedback": other["feedback"] + tuple(_sentence(n) for n in notes)}
        return {**first, "feedback": first.get("feedback", ()) + tuple(_sentence(n) for n in trees[0][1])}

    def _reading(self, tree, by_properties: bool, diagnose: bool = True, broadcasting: bool = False) -> dict:
        ref, r, answer = self.ref, self.r, self.answer
        p, q = ref.problem, r.quantity
        free = indices(q)
        form = IndexForm(tree, p.scope, answer, sy.shape_of(r.closed), free)
        entries = not by_properties and form.is_index_form()
        size = r.closed.shape[0] if isinstance(r.closed, MatrixExpr) else None
        builder = AnswerBuilder(p.scope, answer, free, size)
        builder.entries, builder.broadcasting = entries, broadcasting
        try:           # an entry form of a matrix quantity is read as such; an index quantity's first as a vector
            expr = None if entries and not free else builder.scalar(builder.build(tree))
        except AnswerError as e:
            if not (entries and e.code == "unknown_symbol"):
                return {**_error(e), "interpreted": as_read(tree), "feedback": (e.message,) + tuple(
                    _sentence(n) for n in builder.notes)}
            expr = None                      # \max_k, 1(i = j), another index letter: the entry form
        if expr is None:
            try:
                form.check(*ref.point(*first_point(p, r)))
            except AnswerError as e:
                return _error(e)
            expr, free = form, free or ("entries",)
        with display.using(p.display):       # echoed in the statement's notation, as the sheet prints it
            shown = interpreted(expr, tree, free) if diagnose else ""
        notes = tuple(_sentence(n) for n in builder.notes)
        own = own_symbol(p, r)
        if own is not None and isinstance(expr, sp.Basic) and own in expr.free_symbols:
            return dict(verdict="invalid", diagnosis=("not_allowed",), interpreted=shown,
                        feedback=(f"{q.name} cannot be answered in terms of {own} itself",))
        later = not_yet(p, ref.derivation, q, tree)
        if later:
            return dict(verdict="invalid", diagnosis=("not_allowed",), interpreted=shown,
                        feedback=tuple(why for _, why in later))
        bad = not_allowed(p, q, tree, builder)
        if bad:
            return dict(verdict="invalid", diagnosis=("not_allowed",), interpreted=shown,
                        feedback=(f"{q.name} must be written with {', '.join(q.allowed)} only; "
                                  f"the answer uses {', '.join(bad)}",))
        if by_properties:
            res = grade_properties(p, q, expr, ref.derivation, answer)
            return dict(verdict="correct" if res.passed else "incorrect", feedback=tuple(res.feedback) + notes,
                        interpreted=shown, fingerprint=None)
        verdict, diagnosis, feedback, fp = decide(ref, r, expr, answer, tree, free, builder.reductions,
                                                  diagnose=diagnose and not self.settle, reveal=self.reveal)
        return dict(verdict=verdict, diagnosis=tuple(diagnosis), feedback=tuple(feedback) + notes,
                    interpreted=shown, fingerprint=fp)


def as_read(tree) -> str:
    """The tree as the parser read it, for an answer that could not be built."""
    try:
        return tree_latex(tree)
    except (RecursionError, ValueError, KeyError):     # the echo is a courtesy; never fail a check over it
        return ""


def _error(e: AnswerError) -> dict:
    verdict = "invalid" if e.code in INVALID_CODES else "incorrect"
    return dict(verdict=verdict, diagnosis=(e.code,), feedback=(e.message,), offset=e.offset)


def _sentence(note: str) -> str:
    return note[0].upper() + note[1:]
