"""Closed forms a textbook prints: light, sound simplifications of the engine's matrix expressions."""
from __future__ import annotations

import sympy as sp

from derive.expr import functions as sy
from derive.runtime import limits


def _scale(c, m):
    """c·m without SymPy's deep doit (which re-walks the whole tree: quadratic in depth)."""
    return m if c == 1 else sp.MatMul(c, m)


_TIDY_CACHE: dict = {}


def tidy(e, onehot=()):
    """Light, sound simplifications: drop ones in Hadamard products, cancel X ⊙ X^(∘-1),
    log'/exp' written out, and 1ᵀy = 1 for one-hot y
    (`onehot`: Problem.onehot_sums). Memoized: closed forms nest earlier ones."""
    if not isinstance(e, sp.Basic) or not e.args:
        return e
    key = (e, tuple(onehot))
    if key not in _TIDY_CACHE:
        if len(_TIDY_CACHE) > 100_000:
            _TIDY_CACHE.clear()
        _TIDY_CACHE[key] = _tidy(e, tuple(onehot))
    return _TIDY_CACHE[key]


def _tidy(e, onehot):
    limits.check()                          # once per new node (tidy is memoized)
    args = [tidy(a, onehot) for a in e.args]
    if isinstance(e, sy.Apply) and e.order == 1 and e.fname in ("log", "exp"):
        return sp.HadamardPower(args[2], -1) if e.fname == "log" else sy.Apply("exp", 0, args[2])
    if isinstance(e, sp.HadamardProduct):
        coeff, mats = sp.Integer(1), []
        for a in args:
            if isinstance(a, sp.MatMul) and a.args and a.args[0].is_Number:
                c, ms = a.as_coeff_matrices()
                coeff, a = coeff * c, sp.MatMul(*ms) if len(ms) > 1 else ms[0]
            if isinstance(a, sp.HadamardProduct):
                mats.extend(a.args)
            elif not isinstance(a, sp.OneMatrix):
                mats.append(a)
        for m in list(mats):
            inv = sp.HadamardPower(m, -1)
            if m in mats and inv in mats:
                mats.remove(m)
                mats.remove(inv)
        if not mats:
            return _scale(coeff, sp.OneMatrix(*e.shape))
        return _scale(coeff, mats[0] if len(mats) == 1 else sp.HadamardProduct(*mats))
    if isinstance(e, sp.MatMul) and onehot:
        coeff, mats = e.as_coeff_matrices()
        product = sp.MatMul(coeff, *[tidy(m, onehot) for m in mats]).doit(deep=False)
        if not isinstance(product, sp.MatMul):          # (-1)*1 may come back as a OneMatrix, done
            return product
        coeff, mats = product.as_coeff_matrices()
        hot = dict(onehot)
        for k in range(len(mats) - 1):
            a, b = mats[k], mats[k + 1]
            if isinstance(a, sp.OneMatrix) and a.shape[0] == 1 and hot.get(str(b)) in ("all", "columns"):
                ones = sp.OneMatrix(1, b.shape[1])      # 1ᵀy = Σ y_j = 1; 1ᵀY = 1ᵀ, one 1 per column
            elif isinstance(b, sp.OneMatrix) and b.shape[1] == 1 and hot.get(str(a)) in ("all", "rows"):
                ones = sp.OneMatrix(a.shape[0], 1)      # Y 1 = 1, one 1 per row
            elif isinstance(b, sp.OneMatrix) and hot.get(str(a)) == "rows":
                ones = sp.OneMatrix(a.shape[0], b.shape[1])     # Y 1 1ᵀ = 1 1ᵀ: the row sums, broadcast
            elif isinstance(a, sp.OneMatrix) and hot.get(str(b)) == "columns":
                ones = sp.OneMatrix(a.shape[0], b.shape[1])
            else:
                continue
            rest = mats[:k] + ([] if ones.shape == (1, 1) else [ones]) + mats[k + 2:]
            return _scale(coeff, sp.MatMul(*rest) if len(rest) > 1 else rest[0]) if rest else _scale(coeff, sp.Identity(1))
    try:
        out = e.func(*args)
    except (TypeError, ValueError):
        return e
    if isinstance(out, sp.MatMul):
        rest = [a for a in out.args if a != sp.Identity(1)]
        if len(rest) < len(out.args) and any(isinstance(a, sp.MatrixExpr) for a in rest):   # -1·I stays -I
            out = sp.MatMul(*rest) if len(rest) > 1 else rest[0]
    return out.doit(deep=False) if isinstance(out, (sp.MatAdd, sp.MatMul)) else out
