"""Shape answers: '1024 x 32', '(C, 28, 28)' — the same dimensions, in the asked order."""
from __future__ import annotations

from itertools import permutations

import numpy as np
import sympy as sp

from derive.engine.backprop import value_subs
from derive.errors import AnswerError
from derive.expr.numeric import evaluate
from derive.grading.read import AnswerBuilder, shape_pieces
from derive.grading.reference import Reference, fingerprint
from derive.grading.verdicts import INVALID_CODES
from derive.notation.text import text as show


def grade_shape(ref: Reference, r, answer: str, fmt: str, reveal: bool = False) -> dict:
    """A shape answer: the same dimensions, in the asked order (or an accepted alternative). Like
    every kind's, the feedback on a wrong one names the mistake without the right dimensions
    unless `reveal` (a server with --no-solutions must not give them away)."""
    p, q = ref.problem, r.quantity
    try:
        pieces = shape_pieces(p, answer, fmt)
        got = [AnswerBuilder(p.scope, text).build(tree) for _, text, tree in pieces]
    except AnswerError as e:
        verdict = "invalid" if e.code in INVALID_CODES else "incorrect"
        return dict(verdict=verdict, diagnosis=(e.code,), feedback=(e.message,), offset=e.offset)
    interpreted = r" \times ".join(sp.latex(g) for g in got)
    want = list(r.closed)
    free = set().union(*(d.free_symbols for d in want + got)) - {sp.Symbol(k, real=True) for k in p.values}
    rng = np.random.default_rng(11)
    draws = [{**p.values, **{str(s): float(rng.integers(2, 50)) for s in free}} for _ in range(3)]

    def nums(dims, env):
        out = []
        for d in dims:
            v = np.asarray(evaluate(d, env, {}, {}), dtype=float) if d.free_symbols else float(d)
            out.append(float(np.asarray(v).reshape(-1)[0]))
        return out

    def same(a, b):
        return len(a) == len(b) and all(all(abs(x - y) <= 1e-9 * (1 + abs(y)) for x, y in zip(nums(a, e), nums(b, e)))
                                        for e in draws)
    name = "×".join(show(d) for d in want)
    fp = fingerprint([nums(got, e) for e in draws])
    if same(got, want):
        return dict(verdict="correct", feedback=(f"correct: {name}",), interpreted=interpreted, fingerprint=fp)
    for alt in (tuple(d.xreplace(value_subs(p)) for d in a) for a in q.alternatives):
        if same(got, list(alt)):
            return dict(verdict="correct", feedback=(f"correct: {'×'.join(show(d) for d in alt)} "
                                                     f"(also written {name})",), interpreted=interpreted, fingerprint=fp)
    if len(got) != len(want):
        return dict(verdict="incorrect", diagnosis=("shape",), interpreted=interpreted, fingerprint=fp,
                    feedback=(f"{q.name} has {len(want)} dimensions{f' ({name})' if reveal else ''}; "
                              f"the answer has {len(got)}",))
    for perm in permutations(range(len(got))):
        if list(perm) != list(range(len(got))) and same([got[k] for k in perm], want):
            code = "transpose" if len(got) == 2 else "layout"
            return dict(verdict="incorrect", diagnosis=(code,), interpreted=interpreted, fingerprint=fp,
                        feedback=("the right dimensions in the wrong order" + (f": {q.name} is {name}" if reveal else ""),))
    e = draws[0]
    wrong = [k for k, (x, y) in enumerate(zip(nums(got, e), nums(want, e))) if abs(x - y) > 1e-9 * (1 + abs(y))]
    k = wrong[0]
    return dict(verdict="incorrect", diagnosis=("shape",), interpreted=interpreted, fingerprint=fp,
                feedback=(f"dimension {k + 1} is {show(got[k])}" + (f", not {show(want[k])}" if reveal else ", which is not right"),))


