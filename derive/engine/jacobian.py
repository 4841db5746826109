"""Jacobians across a chain of forward equations, in forward mode (numerator layout: J[j, i] = ∂a_j/∂b_i).

The Jacobian of `wrt` is I; down the equations to `of`, each node's Jacobian is its equation's local
Jacobians times the Jacobians of the nodes it uses, summed over them (the sum over paths):
W x → W J_x, x + b → J_x, f(z) → diag(f'(z)) J_z, u ⊙ v → diag(v) J_u + diag(u) J_v,
softmax(z) → (diag(p) − p pᵀ) J_z. A vector is a column or a row (the problem's `vectors`); its
Jacobian is the same matrix either way, since it is taken over the vector's entries.
"""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.engine.simplify import tidy
from derive.errors import UnsupportedError
from derive.expr import functions as fns
from derive.expr import matrix as sy
from derive.problem.load import Problem, Quantity
from derive.runtime import limits

SUPPORTED = ("sums, matrix products with a vector (W x, x W), Hadamard products, entrywise powers, "
             "scalar multiples, transposes, entrywise functions and softmax of vectors")


def _is_vector(e) -> bool:
    return isinstance(e, MatrixExpr) and 1 in e.shape


def _length(v):
    return v.shape[0] if v.shape[1] == 1 else v.shape[1]


def _diag(v):
    """diag(v) of a column or a row (SymPy's DiagMatrix takes either)."""
    return sp.DiagMatrix(v)


def _column(v):
    return v if v.shape[1] == 1 else v.T


def _scalar(e):
    """The 1×1 (or number) a broadcast `1 s`, `s 1ᵀ` or `1 s 1ᵀ` stretches, else None."""
    if not isinstance(e, sp.MatMul):
        return None
    coeff, mats = e.as_coeff_matrices()
    rest = [m for m in mats if not isinstance(m, sp.OneMatrix)]
    if len(rest) == len(mats) or (rest and sp.MatMul(*rest).shape != (1, 1)):
        return None
    return coeff * sp.MatMul(*rest) if rest else coeff


def _times(s, m):
    """s·m for a number or a 1×1 matrix s (a 1×1 acts entrywise: s ⊙ m, with s broadcast)."""
    if not isinstance(s, MatrixExpr):
        return _mul(s, m)
    return sp.HadamardProduct(sy.broadcast(s, m.shape), m)


def _factors(t) -> tuple:
    """t as (number, [matrix factors])."""
    if not isinstance(t, MatrixExpr):
        return t, []
    if isinstance(t, sp.MatMul):
        c, mats = t.as_coeff_matrices()
        return c, list(mats)
    return sp.Integer(1), [t]


def _pair(a, b):
    """a·b as one factor where it reads better: I dropped, diag(u) diag(v) = diag(u ⊙ v),
    diag(v) 1 = v and 1ᵀ diag(v) = vᵀ; None to keep both."""
    if isinstance(a, sp.Identity) or isinstance(b, sp.Identity):
        return b if isinstance(a, sp.Identity) else a
    if isinstance(a, sp.DiagMatrix) and isinstance(b, sp.DiagMatrix):
        u, v = a.args[0], b.args[0]
        return _diag(sy.hadamard(u, v if v.shape == u.shape else v.T))
    if isinstance(a, sp.DiagMatrix) and isinstance(b, sp.OneMatrix) and b.shape[1] == 1:
        return _column(a.args[0])
    if isinstance(a, sp.OneMatrix) and a.shape[0] == 1 and isinstance(b, sp.DiagMatrix):
        return sp.Transpose(_column(b.args[0]))
    return None


def _mul(*parts):
    """The product of numbers and matrices, adjacent factors paired by _pair."""
    coeff, mats = sp.Integer(1), []
    for p in parts:
        c, ms = _factors(p)
        coeff *= c
        for m in ms:
            mats.append(m)
            while len(mats) > 1 and (merged := _pair(mats[-2], mats[-1])) is not None:
                mats[-2:] = [merged]
    if coeff == 0:
        return sp.ZeroMatrix(mats[0].shape[0], mats[-1].shape[1])
    return sp.MatMul(*([coeff] if coeff != 1 else []) + mats) if coeff != 1 or len(mats) > 1 else mats[0]


def _sum(terms):
    """Σ terms, collected: A R + B R = (A + B) R, Σ cᵢ diag(vᵢ) = diag(Σ cᵢ vᵢ), s ⊙ M + t ⊙ M = (s + t) ⊙ M."""
    terms = [u for t in terms if t is not None for u in (t.args if isinstance(t, sp.MatAdd) else (t,))]
    if len(terms) < 2:
        return terms[0] if terms else None
    groups: dict = {}                       # last factor (None: not a product) -> the rest of each term
    for t in terms:
        c, mats = _factors(t)
        key = mats[-1] if len(mats) > 1 else None
        groups.setdefault(key, []).append(t if key is None else _mul(c, *mats[:-1]))
    out = []
    for key, rest in groups.items():
        if key is not None:
            out.append(_mul(_sum(rest), key) if len(rest) > 1 else _mul(rest[0], key))
            continue
        diags = [t for t in rest if len(_factors(t)[1]) == 1 and isinstance(_factors(t)[1][0], sp.DiagMatrix)]
        if len(diags) > 1:
            v = [_factors(d)[1][0].args[0] for d in diags]
            v = [_mul(_factors(d)[0], x if x.shape == v[0].shape else x.T) for d, x in zip(diags, v)]
            rest = [_diag(sp.MatAdd(*v).doit(deep=False))] + [t for t in rest if t not in diags]
        scaled: dict = {}                   # M -> the broadcast scalars s of the terms s ⊙ M
        for t in rest:
            two = isinstance(t, sp.HadamardProduct) and len(t.args) == 2
            k = next((k for k in (0, 1) if two and isinstance(_scalar(t.args[k]), MatrixExpr)), None)
            if k is None:
                out.append(t)
            else:
                scaled.setdefault(t.args[1 - k], []).append(_scalar(t.args[k]))
        out.extend(_times(sp.MatAdd(*s).doit(deep=False) if len(s) > 1 else s[0], m) for m, s in scaled.items())
    return out[0] if len(out) == 1 else sp.MatAdd(*out).doit(deep=False)


def _outer(p, q):
    """(p ⊗ q) when p or q is a vector or 1×1 (None: that factor is absent, an identity)."""
    if p is None or q is None:
        return q if p is None else p
    if p.shape == (1, 1):
        return _times(p, q)
    if q.shape == (1, 1):
        return _times(q, p)
    if p.shape[1] == 1 and q.shape[0] == 1:
        return _mul(p, q)
    return _mul(q, p)                            # p a row, q a column


class Chain:
    """Forward mode from `wrt` to `of`: the Jacobian of each vector expression, None where constant.
    The nodes between are taken in equation order, so each finds those it uses already done."""

    def __init__(self, problem: Problem, q: Quantity):
        self.q, sym = q, problem.scope.symbols
        wrt, self.of = sym[q.wrt], sym[q.of]
        self.memo = {wrt: sp.Identity(_length(wrt))}
        self.live = {wrt}                        # nodes that depend on wrt (wrt itself is held)
        for eq in problem.equations:
            if sym[eq.name] != wrt and eq.expr.free_symbols & self.live:
                self.live.add(sym[eq.name])
        need = {self.of}                         # nodes `of` is computed from
        for eq in reversed(problem.equations):
            if sym[eq.name] in need and sym[eq.name] != wrt:
                need |= eq.expr.free_symbols
        self.path = [(sym[eq.name], eq) for eq in problem.equations
                     if sym[eq.name] in need & self.live and sym[eq.name] != wrt]

    def jacobian(self):
        for node, eq in self.path:
            limits.check()
            J = self(eq.expr, node)
            self.memo[node] = J.xreplace({eq.expr: node}) if J is not None and not eq.expr.is_symbol else J
        return self.memo.get(self.of)            # softmax(z) -> p above: what has a name is named

    def __call__(self, e, node=None):
        if e in self.memo:
            return self.memo[e]
        limits.check()
        if not isinstance(e, sp.Basic) or not e.free_symbols & self.live:
            return None
        if not _is_vector(e) or node is not None and not _is_vector(node):
            bad = node if node is not None and not _is_vector(node) else e
            raise UnsupportedError(f"{self.q.name}: the chain from {self.q.wrt} to {self.q.of} passes through "
                                   f"{bad}, a {sy.show_shape(sy.shape_of(bad))} matrix; a Jacobian is derived "
                                   f"between vectors, through vectors only (ask for a gradient of a scalar instead)")
        rule = RULES.get(type(e))
        if rule is None:
            raise UnsupportedError(f"{self.q.name}: the engine has no Jacobian rule for {type(e).__name__} "
                                   f"(in {e}); a Jacobian is derived across {SUPPORTED}")
        J = self.memo[e] = rule(self, e)
        return J


def _matmul(f, e):
    """vec(L A R) = (Rᵀ ⊗ L) vec(A), for each factor A that depends on wrt (the product rule)."""
    coeff, mats = e.as_coeff_matrices()
    terms = []
    for i, a in enumerate(mats):
        Ja = f(a)
        if Ja is None:
            continue
        left = sp.MatMul(*mats[:i]).doit(deep=False) if i else None
        right = sp.MatMul(*mats[i + 1:]).doit(deep=False) if i + 1 < len(mats) else None
        right = right.T if right is not None and right.shape != (1, 1) else right   # a 1×1 is its transpose
        alone = right if left is None else left if right is None else None
        if alone is not None and alone.shape == (1, 1):       # x s, s x: a 1×1 factor scales
            terms.append(_times(alone, Ja))
            continue
        k = _outer(right, left)
        terms.append(Ja if k is None else _mul(k, Ja))
    J = _sum(terms)
    return J if J is None or coeff == 1 else _mul(coeff, J)


def _hadamard(f, e):
    """d(u ⊙ v) = diag(v) du + diag(u) dv; a broadcast scalar factor s scales: s du."""
    terms = []
    for i, a in enumerate(e.args):
        Ja = f(a)
        if Ja is None:
            continue
        others = e.args[:i] + e.args[i + 1:]
        scalars = [s for s in map(_scalar, others) if s is not None]
        vectors = [o for o in others if _scalar(o) is None]
        J = _mul(_diag(sy.hadamard(*vectors)), Ja) if vectors else Ja
        for s in scalars:
            J = _times(s, J)
        terms.append(J)
    return _sum(terms)


def _hpow(f, e):
    base, p = e.args                           # p is a number: an exponent cannot be a node
    Jb = f(base)
    return None if Jb is None else _mul(_diag(p * (sp.HadamardPower(base, p - 1) if p != 2 else base)), Jb)


def _apply(f, e):
    Ja = f(e.arg)
    return None if Ja is None else _mul(_diag(fns.derivative(e.fname, e.order + 1, e.arg)), Ja)


def _softmax(f, e):
    """d softmax(z) = (diag(p) − p pᵀ) dz, p = softmax(z) as a column (pᵀ p for a row)."""
    Ja = f(e.arg)
    if Ja is None:
        return None
    outer = e * e.T if e.shape[1] == 1 else e.T * e
    return _mul(_diag(e) - outer, Ja)


RULES = {
    sp.MatAdd: lambda f, e: _sum([f(a) for a in e.args]),
    sp.MatMul: _matmul,
    sp.HadamardProduct: _hadamard,
    sp.HadamardPower: _hpow,
    sp.Transpose: lambda f, e: f(e.arg),        # vec(xᵀ) = vec(x) for a vector
    fns.Apply: _apply,
    fns.Softmax: _softmax,
}


def across(problem: Problem, q: Quantity):
    """d(of)/d(wrt) across the forward equations between them: the product of the local Jacobians,
    in the forward nodes' names, tidied."""
    sym = problem.scope.symbols
    if q.of not in {e.name for e in problem.equations}:
        raise UnsupportedError(f"{q.name}: {q.of} is an input of this problem, not computed from {q.wrt}; "
                               f"a Jacobian d(node)/d(input) needs a forward equation for the node")
    of, wrt = sym[q.of], sym[q.wrt]
    if sy.shape_of(wrt) is None or sy.shape_of(of) is None:
        raise UnsupportedError(f"{q.name}: a Jacobian is derived between vectors; in a problem of scalars "
                               f"ask for the gradient of the output {problem.output}")
    for name, node in ((q.of, of), (q.wrt, wrt)):
        if not _is_vector(node):
            raise UnsupportedError(f"{q.name}: {name} is a {sy.show_shape(node.shape)} matrix; a Jacobian is "
                                   f"derived between vectors (columns or rows), across {SUPPORTED}; for a "
                                   f"matrix ask for the gradient of a scalar of it")
    J = Chain(problem, q).jacobian()
    return sp.ZeroMatrix(_length(of), _length(wrt)) if J is None else tidy(J, problem.onehot_sums)


def entry(q: Quantity, J):
    """The index form of dP_j/dh_i: entry (j, i) of J (None for a matrix quantity)."""
    if not q.index:
        return None
    outer = q.name.split("/")[0][1:]
    j = sp.Symbol(outer.split("_")[1] if "_" in outer else "j", integer=True)
    return J[j, sp.Symbol(q.index, integer=True)]
