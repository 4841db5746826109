"""Why an answer is wrong: sign, transpose, constant factor, a missing term or factor, an extra factor."""
from __future__ import annotations

from fractions import Fraction
from itertools import combinations

import numpy as np
import sympy as sp

from derive.engine.backprop import INTERNAL
from derive.expr import matrix as sy
from derive.expr.compiled import evaluate
from derive.grading import mutants
from derive.grading.reference import kept_mutants
from derive.notation.text import text
from derive.verify.proof import rel_error


def parts(e, kind):
    """Terms (kind='add') or factors (kind='mul') of a reference expression."""
    if kind == "add":
        return list(e.args) if isinstance(e, (sp.Add, sp.MatAdd)) else []
    if isinstance(e, (sp.Mul, sp.HadamardProduct)):
        return [f for f in e.args if not f.is_Number]
    if isinstance(e, sp.MatMul):
        return [f for f in e.args if not (getattr(f, "is_Number", False))
                and not isinstance(f, sp.MatMul) and sy.shape_of(f) in (None, (1, 1))]
    return []


def _values(e, rows):
    out = []
    for a, b, inst, env in rows:
        v = np.asarray(evaluate(e, env, inst.dims, inst.functions), dtype=float)
        v2 = _conform(v, b) if v.shape != b.shape else v
        if v2 is None or not np.all(np.isfinite(v2)):
            return None
        out.append(v2)
    return out


def _value_at(e, row):
    """e at one point, conformed to the reference's shape; None where not finite or not conforming."""
    _, b, inst, env = row
    v = np.asarray(evaluate(e, env, inst.dims, inst.functions), dtype=float)
    v = _conform(v, b) if v.shape != b.shape else v
    return v if v is not None and np.all(np.isfinite(v)) else None


def _all_close(xs, ys) -> bool:
    return all(rel_error(x, y) <= 1e-6 for x, y in zip(xs, ys))


def _conform(v, b):
    """An evaluated part, broadcast to the reference's shape where it is a single number."""
    if v.shape == b.shape:
        return v
    return np.full(b.shape, float(v.reshape(-1)[0])) if v.size == 1 else None


def diagnose(ref, r, rows, indices, reveal: bool = False):
    """(codes, sentences) for a wrong answer evaluated at `rows` (answer, reference, instance, env).
    Sentences name a mistake by its role (the path, the node); `reveal` adds the expression."""
    A = [a for a, _, _, _ in rows]
    B = [b for _, b, _, _ in rows]
    name = r.quantity.name

    def mutant():
        """The classic mistake (mutants.py) the answer equals, made from the reference itself."""
        values = mutants.Values(_value_at, rows, ref.mutant_values)
        if r.quantity.name not in ref.mutants:
            ref.mutants[r.quantity.name] = kept_mutants(ref.derivation, r)    # else match makes them
        m = mutants.match(ref.derivation, r, A, values, ref.mutants, lambda x, y: rel_error(x, y) <= 1e-6)
        return ([mutants.PRIMARY[m.kind]], [mutants.feedback(m, reveal)]) if m else None
    if _all_close(A, [-b for b in B]):
        return ["sign"], ["the sign is wrong: the answer is the negative of the right one"]
    if any(a.ndim == 2 and a.shape[0] == a.shape[1] and a.size > 1 for a in A) and _all_close([a.T for a in A], B):
        return ["transpose"], ["the answer is the transpose of the right one"]
    if len(rows) == 1:                   # one point (the given values): only a slipped decimal point
        a, b = float(A[0].reshape(-1)[0]), float(B[0].reshape(-1)[0])
        ratio = a / b if b else 0.0
        for k in (-3, -2, -1, 1, 2, 3):
            if abs(abs(ratio) - 10.0 ** k) <= 1e-9 * 10.0 ** k:
                return ["constant_factor"], [f"off by a factor {10.0 ** k:g}: check the decimal point"]
        return mutant() or ([], [])
    cs = [float(np.sum(a * b) / np.sum(b * b)) if np.sum(b * b) > 1e-24 else np.nan for a, b in zip(A, B)]
    if all(np.isfinite(cs)) and abs(cs[0]) > 1e-9 and all(abs(c - cs[0]) <= 1e-6 * abs(cs[0]) for c in cs) \
            and _all_close(A, [cs[0] * b for b in B]):
        c = Fraction(cs[0]).limit_denominator(1000)
        shown = str(c) if abs(float(c) - cs[0]) <= 1e-9 * abs(cs[0]) and len(str(c)) <= 12 else f"{cs[0]:.4g}"
        return ["constant_factor"], [f"off by a constant factor: the answer is {shown} times {name}"]
    counted = _count_factor(ref, rows, A, B, cs)
    if counted:
        return ["constant_factor"], [counted]
    found = mutant()
    if found:
        return found
    if len(indices) == 2 and all(np.allclose(np.diag(a), np.diag(b), rtol=1e-6, atol=1e-12) for a, b in zip(A, B)):
        return ["missing_term"], [f"right for {indices[1]} = {indices[0]} only; the case "
                                  f"{indices[1]} ≠ {indices[0]} is missing (write it with delta_{indices[1]}{indices[0]})"]
    for e in r.forms():
        terms = parts(e, "add")
        if 1 < len(terms) <= 6:
            tv = [_values(t, rows) for t in terms]
            if all(v is not None for v in tv):
                for size in range(1, len(terms)):
                    for sub in combinations(range(len(terms)), size):
                        s = [sum(tv[k][n] for k in sub) for n in range(len(rows))]
                        if _all_close(A, s):
                            return ["missing_term"], [f"a term is missing: {name} is a sum of {len(terms)} "
                                                      f"terms (one per path) and the answer has only {size}"]
    # factors: the ratio answer / reference against the reference's factors and the problem's values
    ok = all(np.all(np.abs(b) > 1e-9) for b in B)
    if ok:
        ratio = [a / b for a, b in zip(A, B)]
        cands = []
        for e in r.forms():
            for f in parts(e, "mul"):
                cands.append((text(f), f))
        own = {name, *_own_names(ref, r)}       # "lacks dL/dw1" would name the quantity itself
        env_names = [k for k in rows[0][3] if not k.startswith("__") and k not in own]
        for k in env_names:
            cands.append((k, None))
        for label, f in cands:
            if f is not None:
                try:
                    vals = _values(f, rows)
                except Exception:
                    vals = None
            else:
                vals = [_conform(np.asarray(env[label], dtype=float), b) for a, b, inst, env in rows]
                vals = None if any(v is None for v in vals) else vals
            if not vals or any(np.any(np.abs(v) < 1e-12) for v in vals):
                continue
            if _all_close(ratio, [1 / v for v in vals]):
                role = mutants.Roles(ref.problem).factor(f if f is not None else _symbol(ref.problem, label))
                return ["missing_factor"], [f"a factor is missing: {role}" + (f" ({label})" if reveal else "")]
            if _all_close(ratio, vals):
                return ["extra_factor"], [f"the answer has an extra factor {label}"]
    if _constant(A) and not _constant(B):
        return [], [f"the answer is the constant {_show(A[0])}, but {name} changes with the inputs"]
    return [], []


def _count_factor(ref, rows, A, B, cs):
    """A ratio to the right answer that is a dimension (N, 1/N, 2N) at every point: a count is off."""
    if not all(np.isfinite(cs)) or not _all_close(A, [c * b for c, b in zip(cs, B)]):
        return ""
    sizes = [{str(k): v for k, v in inst.dims.items()} for _, _, inst, _ in rows]
    for d in ref.problem.scope.dims:
        for power in (1, -1):
            ks = [c / s[d] ** power for c, s in zip(cs, sizes) if d in s]
            if len(ks) == len(cs) and abs(ks[0]) > 1e-9 and all(abs(k - ks[0]) <= 1e-6 * abs(ks[0]) for k in ks):
                what = f"{d}" if power == 1 else f"1/{d}"
                k = Fraction(ks[0]).limit_denominator(100)
                times = what if k == 1 else f"{k} {what}"
                return (f"off by a factor counting entries: the answer is {times} times the right one"
                        if power == 1 else f"off by a factor counting entries: the answer is the right one over {d}"
                        + (f", times {k}" if k != 1 else ""))
    return ""


def _symbol(p, name: str):
    return p.scope.symbols.get(name, sp.Symbol(name))


def _own_names(ref, r) -> set:
    """The names the problem gives the asked quantity (delta3 for dL/dz3, the engine's copy)."""
    q, p = r.quantity, ref.problem
    out = set()
    if q.wrt in p.adjoint_names:
        out |= {p.adjoint_names[q.wrt], p.adjoint_names[q.wrt] + INTERNAL}
    return out


def _constant(values) -> bool:
    flat = np.concatenate([np.asarray(v, dtype=float).reshape(-1) for v in values])
    return bool(np.all(np.abs(flat - flat[0]) <= 1e-9 * (1 + abs(flat[0]))))


def _show(v) -> str:
    return f"{float(np.asarray(v).reshape(-1)[0]):.6g}"
