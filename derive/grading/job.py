"""The worker's job: one answer against the reference -> the fields of a CheckResult.

Runs in a sandboxed worker (sandbox.py) under the hard time limit; `prepare` (deriving the
reference, cached per problem file version) runs first, untimed.
"""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from ..errors import AnswerError
from ..properties import grade as grade_properties
from .decide import decide, warm
from .key import ProblemKey
from .read import AnswerBuilder, indices, interpreted, not_allowed, own_symbol, parse_answer
from .reference import reference
from .result import INVALID_CODES
from .shapes import grade_shape


def prepare(key: ProblemKey, qname: str) -> None:
    """Trusted, untimed: derive the reference and its values at the usual decision points."""
    ref = reference(key)
    r = ref.derivation.result(qname)
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


def job(key: ProblemKey, qname: str, answer: str, fmt: str) -> dict:
    """The checked verdict as CheckResult fields."""
    ref = reference(key)
    r = ref.derivation.result(qname)
    return r.quantity.kind.grade(Grader(ref, r, answer, fmt))


class Grader:
    """What a quantity kind grades with (kinds.Kind.grade picks one of these)."""

    def __init__(self, ref, r, answer: str, fmt: str):
        self.ref, self.r, self.answer, self.fmt = ref, r, answer, fmt

    def shape(self) -> dict:
        return grade_shape(self.ref, self.r, self.answer, self.fmt)

    def prose(self) -> dict:
        return dict(verdict="undecided", feedback=(self.r.quantity.kind.ungraded_feedback(self.r.quantity),))

    def equivalence(self) -> dict:
        return self._expression(by_properties=False)

    def properties(self) -> dict:
        return self._expression(by_properties=True)

    def _expression(self, by_properties: bool) -> dict:
        ref, r, answer = self.ref, self.r, self.answer
        p, q = ref.problem, r.quantity
        free = indices(q)
        try:
            tree = parse_answer(p, answer, self.fmt)
            size = r.closed.shape[0] if isinstance(r.closed, MatrixExpr) else None
            builder = AnswerBuilder(p.scope, answer, free, size)
            expr = builder.build(tree)
        except AnswerError as e:
            verdict = "invalid" if e.code in INVALID_CODES else "incorrect"
            return dict(verdict=verdict, diagnosis=(e.code,), feedback=(e.message,), offset=e.offset)
        shown = interpreted(expr, tree, free)
        own = own_symbol(p, r)
        if own is not None and isinstance(expr, sp.Basic) and own in expr.free_symbols:
            return dict(verdict="invalid", diagnosis=("not_allowed",), interpreted=shown,
                        feedback=(f"{q.name} cannot be answered in terms of {own} itself",))
        bad = not_allowed(p, q, tree, builder)
        if bad:
            return dict(verdict="invalid", diagnosis=("not_allowed",), interpreted=shown,
                        feedback=(f"{q.name} must be written with {', '.join(q.allowed)} only; "
                                  f"the answer uses {', '.join(bad)}",))
        if by_properties:
            res = grade_properties(p, q, expr, ref.derivation, answer)
            return dict(verdict="correct" if res.passed else "incorrect", feedback=res.feedback,
                        interpreted=shown, fingerprint=None)
        verdict, diagnosis, feedback, fp = decide(ref, r, expr, answer, tree, free, builder.reductions)
        return dict(verdict=verdict, diagnosis=tuple(diagnosis), feedback=tuple(feedback), interpreted=shown,
                    fingerprint=fp)
