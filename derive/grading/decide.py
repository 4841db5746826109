"""The decision: an answer is correct when it agrees with the reference where both are finite.

The rule (README, "Grading student text safely"): for a problem that gives numbers, the answer
must have the value at those numbers (to the decimals it gives, with at least three significant
digits). Otherwise the answer is evaluated at FIXED_POINTS fixed points (the same for every
answer) and SECRET_POINTS points chosen by a hash of a per-installation secret and the answer's
text, none predictable from the source; points where the reference itself is not finite are
skipped. `correct` needs agreement within TOLERANCE at every point and at least MIN_POINTS points
where both sides are finite; an answer without a finite value where the reference has one is
never correct.
"""
from __future__ import annotations

import math
import re

import numpy as np
import sympy as sp

from derive.errors import AnswerError, EvalError, ShapeError
from derive.expr import compiled
from derive.expr import matrix as sy
from derive.expr import numeric
from derive.expr.numeric import evaluate
from derive.grading.diagnose import diagnose as diagnose_answer
from derive.grading.index import IndexForm
from derive.grading.reference import DecisionBasis, Reference, fingerprint, secret_points
from derive.notation.latex import shape_text
from derive.runtime.memo import IdMemo
from derive.verify import instances
from derive.verify.proof import rel_error

TOLERANCE = 1e-6             # relative, at each point
FIXED_POINTS = 4
SECRET_POINTS = 2
MIN_POINTS = 4
MAX_DRAWS = 10               # points of a family tried at most (skipping where the reference is not finite)
KINK_SCALES = (3, 6)         # small-scale points where the reference has a kink: inputs times 10^-3, 10^-6
STEEP = 50                   # an answer with a constant this large (or small) is also checked at its scale
MAX_SCALE = 15
_NUMBER_POWER = re.compile(r"(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)(?:\s*(?:\^|\*\*)\s*\{?\(?\s*([-+]?\d+)\)?\}?)?")


def conform(a, b, indexed: bool):
    """a reshaped to b's shape where that is exact (scalar vs 1x1, scalar broadcast in index form)."""
    a = np.asarray(a, dtype=float)
    if a.shape == b.shape:
        return a
    if a.size == 1 and (b.size == 1 or indexed):
        return np.full(b.shape, float(a.reshape(-1)[0]))
    return None


def _plan(p, r, answer: str, secret_numbers=None, expr=None):
    """(family, point numbers to try, how many usable points are wanted) for one answer (`expr`: as
    built, whose constants say whether it is steep)."""
    if p.values and not r.quantity.kind.random_points:
        return [("values", [0], 1)]
    if secret_numbers is None:
        secret_numbers = secret_points(p, r.quantity.name, answer, MAX_DRAWS)
    plan = [("fixed", range(MAX_DRAWS), FIXED_POINTS), ("secret", secret_numbers, SECRET_POINTS)]
    scales = kink_scales(p, answer, expr)
    return plan + [("kink", scales, len(scales))] if scales else plan


def kink_scales(p, answer: str, expr=None) -> tuple:
    """Exponents n of the small-scale points (inputs times 10^-n): around the reference's kinks,
    and where the answer's own large constants make it steep (tanh(1000 z) is a step beyond
    |z| > 0.003 and differs from one within it). Where the text has such a constant, the built
    expression's own constants decide (1000/1000 is 1)."""
    steep = _steepness(answer) if answer else 1.0
    if steep >= STEEP and isinstance(expr, sp.Basic):
        steep = _built_steepness(expr)
    scales = KINK_SCALES if instances.has_kink(p) else ()
    if steep >= STEEP:
        scales += (min(MAX_SCALE, int(math.ceil(math.log10(steep))) + 1),)
    return tuple(sorted(set(scales)))


def _steepness(answer: str) -> float:
    """The largest of |c| and 1/|c| over the answer's numbers (and powers of them, 10^3): read from
    the text, which is cheaper than walking the tree and errs only towards checking more points."""
    out = 1.0
    for m in _NUMBER_POWER.finditer(answer):
        try:
            v = abs(float(m.group(1)) ** float(m.group(2) or 1))
        except (OverflowError, ValueError, ZeroDivisionError):
            v = math.inf
        if v and math.isfinite(v):
            out = max(out, v, 1 / v)
        elif v:
            out = max(out, 10.0 ** MAX_SCALE)
    return out


def _built_steepness(expr) -> float:
    """_steepness of the constants SymPy kept in the built answer (a walk that skips the symbols,
    whose dimensions are numbers too)."""
    out, todo = 1.0, [expr]
    while todo:
        e = todo.pop()
        if isinstance(e, sp.Number):
            v = abs(float(e))
            if v and math.isfinite(v):
                out = max(out, v, 1 / v)
            elif v:
                out = max(out, 10.0 ** MAX_SCALE)
        elif not isinstance(e, (sp.Symbol, sp.MatrixSymbol)):
            todo.extend(e.args)
    return out


def first_point(p, r):
    """(family, number) of the first point an answer is evaluated at."""
    return ("values", 0) if p.values and not r.quantity.kind.random_points else ("fixed", 0)


def warm(ref: Reference, r) -> None:
    """The reference's values at the fixed points (and the given values), so that the timed check
    mostly evaluates the answer; an answer's two secret points are computed when it asks for them
    (about 20 ms each, once per worker)."""
    for family, numbers, wanted in _plan(ref.problem, r, "", ()):
        for n in list(numbers)[:wanted]:
            ref.value(r, family, n)


def _value(expr, inst, env, reductions, fn=None):
    """The answer at a point; `fn`: the answer compiled once (compiled.once) for all its points."""
    if isinstance(expr, IndexForm):
        return expr.value(inst, env)
    if reductions:
        env = {**env, **{n: np.array([[np.max(evaluate(v, env, inst.dims, inst.functions))]])
                         for n, v in reductions.items()}}
    if fn is not None:
        return np.asarray(fn(compiled.context(env, inst.dims, inst.functions)), dtype=float)
    return np.asarray(evaluate(expr, env, inst.dims, inst.functions), dtype=float)


# a reference value (kept by its Reference, met by every answer): (finite everywhere, its norm)
_REFERENCE_VALUE = IdMemo(lambda b: (bool(np.isfinite(b).all()), numeric.norm(b)), limit=4096)


def decide(ref: DecisionBasis, r, expr, answer: str, tree, indices, reductions=None, *, diagnose: bool = True,
           reveal: bool = False):
    """(verdict, diagnosis, feedback, fingerprint) of an answer built as `expr`. Without `diagnose`
    (another reading of an ambiguous answer) only whether it is right matters: the first differing
    point settles it."""
    plan = _plan(ref.problem, r, answer, expr=expr)
    fn = compiled.once_or_none(expr)
    with np.errstate(all="ignore"):           # as numeric.evaluate and compiled.run_once evaluate
        out = _decide(ref, r, expr, answer, indices, reductions, diagnose, reveal, plan, fn)
    return out


def _decide(ref, r, expr, answer, indices, reductions, diagnose, reveal, plan, fn):
    at_values = plan[0][0] == "values"
    kept = isinstance(ref, Reference)           # its values are kept (ECF's world makes them per row)
    rows, errs, undefined, seen = [], [], [], []    # seen: the answer at the fixed points (its fingerprint)
    seen_at = []                                # ... and which points they are
    small = []                                  # (answer, reference) at the small-scale points
    for family, numbers, wanted in plan:
        used = 0
        for n in numbers:
            if used == wanted:
                break
            inst, env = ref.point(family, n)
            b = ref.value(r, family, n)
            b_finite, b_norm = _REFERENCE_VALUE(b) if kept else (bool(np.isfinite(b).all()), None)
            if not b_finite:
                continue
            try:
                a = _value(expr, inst, env, reductions, fn)
            except ShapeError as e:
                return "incorrect", ["shape"], [f"the answer's sizes do not work: {e}"], None
            except AnswerError as e:            # an index form that fits one point's sizes and not another's
                return "incorrect", [e.code], [e.message], None
            except (EvalError, KeyError) as e:
                why = "its shapes do not fit" if re.search(r"\(\d+, \d+\)", str(e)) else str(e)   # no trial sizes
                return "undecided", [], [f"the answer could not be evaluated: {why}"], None
            except (ValueError, TypeError, ArithmeticError):
                return "undecided", [], ["the answer could not be evaluated at the test points (an operation "
                                         "without a value there); write it in a simpler form"], None
            a2 = conform(a, b, bool(indices))
            if family in ("fixed", "values"):
                seen.append(a if a2 is None else a2)
                seen_at.append((family, n))
            if a2 is None:
                return (*shape_verdict(r, expr, a, b), fingerprint(seen))
            used += 1
            if family == "kink":
                small.append((a2, b))
                continue
            err = rel_error(a2, b, b_norm)       # (within TOLERANCE only where a2 is finite: b is)
            if err <= TOLERANCE or np.isfinite(a2).all():
                rows.append((a2, b, inst, env))
                errs.append(err)
                if not diagnose and err > TOLERANCE:
                    return "incorrect", [], [], None
            else:
                undefined.append(a2)
    verdict, diagnosis, feedback = _verdict(ref, r, answer, indices, diagnose, reveal, at_values, rows, errs,
                                            undefined, small)
    # a right answer means what the reference means: its fingerprint is the reference's (kept per point set)
    fp = ref.meaning(r, tuple(seen_at)) if verdict == "correct" else fingerprint(seen)
    return verdict, diagnosis, feedback, fp


def _verdict(ref, r, answer, indices, diagnose, reveal, at_values, rows, errs, undefined, small):
    """(verdict, diagnosis, feedback) from the answer's agreement at the points tried."""
    p = ref.problem
    name = r.quantity.name
    if not rows:
        return "undecided", [], ["the answer has no finite value at any point tried (overflow or NaN); "
                                 "cannot decide"]
    agree = all(e <= TOLERANCE for e in errs)
    if agree and undefined:
        return "incorrect", [], [f"the answer has no finite value (NaN or overflow) at {len(undefined)} of the "
                                 f"{len(rows) + len(undefined)} points tried, where {name} has one: "
                                 "they are not the same function"]
    if agree and any(not np.all(np.isfinite(a)) or _scale_free_error(a, b) > TOLERANCE for a, b in small):
        return "incorrect", [], [f"the answer agrees with {name} at random values of the inputs but not at small "
                                 "ones" + (" (near a kink of the reference, where a ReLU, abs, max or floor "
                                           "changes slope)" if instances.has_kink(p) else "")
                                 + ": they are not the same function"]
    if agree and at_values:
        return "correct", [], [f"correct: {_num(rows[0][0])} at the given values"]
    if agree and len(rows) >= MIN_POINTS:
        return "correct", [], [f"correct: matches the derived {name} at {len(rows)} random points"]
    if agree:
        return "undecided", [], [f"the answer matches {name} at only {len(rows)} points where both are finite "
                                 f"({MIN_POINTS} are needed); cannot decide"]
    if at_values and _rounded_ok(answer, rows[0][1]):
        return "correct", [], [f"correct to the {len(_decimals(answer))} decimals given"]
    if not at_values and len(rows) < 2:
        return "undecided", [], ["too few points where the answer has a finite value; cannot decide"]
    if not diagnose:
        return "incorrect", [], []
    diagnosis, feedback = diagnose_answer(ref, r, rows, indices, reveal)
    if not feedback:
        if at_values:
            feedback = [f"at the given values the answer is {_num(rows[0][0])}, which is not {name}"]
        else:
            worst = max(errs, key=lambda e: e if e == e else math.inf)      # (NaN: values too large to compare)
            feedback = [f"the answer differs from {name} at random values of the inputs "
                        + (f"(relative error {worst:.2g})" if math.isfinite(worst) else
                           "(its values there are too large to compare: beyond 10^150)")]
    return "incorrect", diagnosis, feedback


def _scale_free_error(a, b) -> float:
    """rel_error without its absolute floor: small-scale values are small."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0


def _num(a) -> str:
    a = np.asarray(a).reshape(-1)
    return f"{a[0]:.6g}" if a.size == 1 else "[" + ", ".join(f"{v:.4g}" for v in a[:6]) + "]"


def _decimals(answer: str) -> str:
    m = re.fullmatch(r"\s*[-+−]?\s*\d*\.(\d+)\s*", answer)
    return m.group(1) if m else ""


def _rounded_ok(answer: str, b) -> bool:
    """A plain number with at least three significant digits that equals the value rounded."""
    dec = _decimals(answer)
    digits = re.sub(r"\D", "", answer).lstrip("0")
    if not dec or len(digits) < 3 or np.size(b) != 1:
        return False
    want = float(np.asarray(b).reshape(-1)[0])
    got = float(answer.replace("−", "-").replace(" ", ""))
    return abs(got - want) <= 0.5 * 10 ** -len(dec) + 1e-12


def shape_verdict(r, expr, a, b):
    """An answer of the wrong shape: the transpose of the right one, or just the wrong shape."""
    want, got = sy.shape_of(r.closed), sy.shape_of(expr)
    show = lambda s: "a scalar" if s is None else shape_text(s)   # noqa: E731
    name = r.quantity.name
    if a.T.shape == b.shape and rel_error(a.T, b) <= TOLERANCE:
        return "incorrect", ["transpose"], [f"{name} is {show(want)} but the answer is "
                                            f"{show(got)}: it is the transpose of the right answer"]
    if a.T.shape == b.shape:
        return "incorrect", ["shape"], [f"{name} is {show(want)} but the answer is {show(got)}; "
                                        "a transpose is missing, and even transposed the values differ"]
    return "incorrect", ["shape"], [f"{name} is {show(want)} but the answer is {show(got)}"]
