"""Entrywise islands: a matrix expression built of entrywise operations on operands of one shape
(or broadcast to it) is a scalar expression in disguise. Each operand becomes a scalar symbol, an
atom; SymPy simplifies the scalar expression; `matrix` puts the atoms back.

Reductions (the engine's ones-vector products 1ᵀX and X1) are linear: a sum over an axis is split
over the terms of its argument, and the factors that do not vary along that axis move outside, so
sum(gamma ⊙ X, 0) = gamma ⊙ sum(X, 0) and sum(c, 0) = 0 for a node c centred along axis 0.
"""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.expr import functions as fns
from derive.expr import matrix as sy
from derive.notation.text import split_ones, strip_broadcast
from derive.runtime import limits

MAX_TERMS = 60          # a reduction's argument expanded beyond this stays one atom


def has_fraction(s) -> bool:
    """A scalar expression dividing by a sum: something may cancel (p(1-p) (1-y)/(1-p))."""
    return any(p.exp.is_negative and p.base.has(sp.Add) for p in s.atoms(sp.Pow))


def _ones(e) -> bool:
    return isinstance(e, sp.OneMatrix)


class Atoms:
    """The operands of the islands of one expression, each a scalar symbol, with its matrix and shape.

    `linear`: split reductions over terms (the alternative keeps sum(X, 0) whole);
    `centred`: {atom matrix: axes along which its entries sum to zero}."""

    def __init__(self, linear: bool = True, centred: dict | None = None, inner=None, rewrite=None):
        self.of: dict = {}          # matrix expression -> symbol
        self._shapes: dict = {}
        self.matrix_of: dict = {}   # symbol -> matrix expression
        self.linear, self.centred = linear, centred or {}
        self.inner = inner or (lambda e: e)   # how a non-entrywise operand's parts are simplified
        self.rewrite = rewrite or (lambda s: s)   # forward nodes recognised in a scalar expression

    def atom(self, e):
        if not isinstance(e, MatrixExpr):
            return e
        if isinstance(e, sp.Transpose) and e.arg.shape == (1, 1):
            e = e.arg
        s = self.of.get(e)
        if s is None:
            s = sp.Symbol(f"_a{len(self.of)}")
            self.of[e], self.matrix_of[s] = s, e
        return s

    def shape(self, s):
        """The shape an atom (or a scalar expression in atoms) has before broadcasting; None: a scalar."""
        if s not in self._shapes:
            self._shapes[s] = self._shape(s)
        return self._shapes[s]

    def _shape(self, s):
        rows = cols = 1
        found = False
        for a in s.free_symbols:
            m = self.matrix_of.get(a)
            if m is not None:
                found = True
                rows, cols = (m.shape[0] if m.shape[0] != 1 else rows), (m.shape[1] if m.shape[1] != 1 else cols)
        return (rows, cols) if found else None

    # ---- matrix -> scalar ------------------------------------------------------------------
    def scalar(self, e):
        """The scalar expression of an entrywise matrix expression (atoms for everything else)."""
        if not isinstance(e, MatrixExpr):
            return e
        if _ones(e) or sy.is_one(e):
            return sp.Integer(1)
        if isinstance(e, sp.ZeroMatrix):
            return sp.Integer(0)
        if isinstance(e, sp.MatAdd):
            return sp.Add(*[self.scalar(a) for a in e.args])
        if isinstance(e, sp.HadamardProduct):
            return sp.Mul(*[self.scalar(a) for a in e.args])
        if isinstance(e, sp.HadamardPower):
            return self.scalar(e.args[0]) ** e.args[1]
        if isinstance(e, sp.MatMul):
            return self._product(e)
        if isinstance(e, sp.Transpose) and e.shape == (1, 1):
            return self.scalar(e.arg)             # a 1×1 matrix is its own transpose
        if isinstance(e, sp.Transpose) and isinstance(e.arg, (sp.MatAdd, sp.HadamardProduct, sp.HadamardPower)):
            return self.scalar(_push_transpose(e.arg))
        if isinstance(e, sp.Transpose) and not isinstance(e.arg, sp.MatrixSymbol):
            return self.atom(sp.Transpose(self.inner(e.arg)))
        if isinstance(e, fns.Apply):
            return self.atom(fns.Apply(e.fname, e.order, self.inner(e.arg)))
        return self.atom(e)

    def _product(self, e):
        coeff, mats = e.as_coeff_matrices()
        mats = strip_broadcast(split_ones(list(mats)))     # broadcasts are implicit in an island
        scal = []                               # 1x1 factors at an end of a vector product are scalars
        while len(mats) > 1 and mats[0].shape == (1, 1) and mats[1].shape[0] == 1:
            scal.append(self.scalar(mats.pop(0)))
        while len(mats) > 1 and mats[-1].shape == (1, 1) and mats[-2].shape[1] == 1:
            scal.append(self.scalar(mats.pop()))
        c = coeff * sp.Mul(*scal)
        if len(mats) == 1:
            return c * self.scalar(mats[0])
        if len(mats) > 2 and _ones(mats[-2]) and mats[-2].shape[0] == 1 and mats[-1].shape[1] == 1:
            return c * self.reduce(mats[-1], 0) * self.scalar(sp.MatMul(*mats[:-2]))   # a (1ᵀx): a scalar
        if len(mats) > 2 and _ones(mats[1]) and mats[1].shape[1] == 1 and mats[0].shape[0] == 1:
            return c * self.reduce(mats[0], 1) * self.scalar(sp.MatMul(*mats[2:]))
        if _ones(mats[0]) and mats[0].shape[0] == 1:
            rest = mats[1:]
            inner = rest[0] if len(rest) == 1 else sp.MatMul(*rest)
            if len(rest) == 2 and _ones(rest[1]) and rest[1].shape[1] == 1:
                return c * self.reduce(self.reduce_expr(rest[0], 0), 1)
            if len(rest) == 1 or not _ones(rest[-1]):
                return c * self.reduce(inner, 0)
        if _ones(mats[-1]) and mats[-1].shape[1] == 1:
            rest = mats[:-1]
            return c * self.reduce(rest[0] if len(rest) == 1 else sp.MatMul(*rest), 1)
        return c * self.atom(_matmul([self.inner(m) for m in mats]))

    def reduce_expr(self, x, axis):
        """sum(x, axis) as a matrix expression, simplified (for a total: sum over one axis, then the other)."""
        return self.matrix(self.reduce(x, axis), (1, x.shape[1]) if axis == 0 else (x.shape[0], 1))

    def reduce(self, x, axis):
        """sum(x, axis) as a scalar expression: linear over x's terms, constants taken outside."""
        limits.check()
        n = x.shape[axis]
        if not self.linear:
            return self._sum_atom(self.inner(x), axis)
        body = self.rewrite(self.scalar(x))
        if has_fraction(body):
            body = sp.cancel(body)             # p(1-p) (1-y)/(1-p): cancel before the terms are split
        body = sp.expand(body, deep=False, mul=True, multinomial=False, power_exp=False, log=False)
        terms = sp.Add.make_args(body)
        if len(terms) > MAX_TERMS:
            return self._sum_atom(self.inner(x), axis)
        groups: dict = {}                      # constant factor -> the varying parts summed under it
        for t in terms:
            limits.check()
            const, var = [], []
            for f in sp.Mul.make_args(t):
                (var if self._varies(f, axis) else const).append(f)
            var_e = sp.Mul(*var)
            if var and var_e.is_Symbol and axis in self.centred.get(self.matrix_of.get(var_e), ()):
                continue
            coeff, rest = sp.Mul(*const).as_coeff_Mul()
            groups.setdefault(rest, []).append(coeff * var_e)
        out = []
        for const, parts in groups.items():
            total = sp.factor_terms(sp.Add(*parts))
            c, var_e = total.as_independent(*[a for a in total.free_symbols if self._varies(a, axis)],
                                            as_Add=False)
            out.append(const * c * (n if var_e == 1 else self._sum_atom(self.matrix(var_e, x.shape), axis)))
        return sp.Add(*out)

    def _varies(self, f, axis) -> bool:
        sh = self.shape(f)
        return sh is not None and sh[axis] != 1

    def _sum_atom(self, x, axis):
        r, c = x.shape
        return self.atom(sp.MatMul(sy.ones(1, r), x) if axis == 0 else sp.MatMul(x, sy.ones(c, 1)))

    # ---- scalar -> matrix -----------------------------------------------------------------
    def matrix(self, s, shape):
        """The matrix expression of shape `shape` a scalar expression in atoms stands for."""
        s = sp.sympify(s)
        if not (s.free_symbols & set(self.matrix_of)):
            if s == 0 and shape is not None:
                return sp.ZeroMatrix(*shape)
            return s if shape is None else _scaled(s, sy.ones(*shape))
        own = self.shape(s)
        if own != shape:                        # lower-shaped: build at its own shape, broadcast once
            return _broadcast(self.matrix(s, own), shape)
        if s.is_Add:
            return sp.MatAdd(*[self.matrix(t, shape) for t in s.args])
        if s.is_Symbol:
            return self.matrix_of[s]
        if s.is_Pow:
            base = self.matrix(s.base, shape)
            return sp.HadamardPower(base, s.exp)
        coeff, mats = sp.Integer(1), []
        factors = list(sp.Mul.make_args(s))
        adds = [k for k, f in enumerate(factors) if f.is_Add]
        if s.could_extract_minus_sign() and len(adds) == 1:     # -(y - p)/N is (p - y)/N
            factors = [-f if f.is_Number else f for f in factors]
            factors[adds[0]] = sp.Add(*[-t for t in factors[adds[0]].args])
            if not any(f.is_Number for f in factors):
                factors = [sp.Integer(-1)] + factors
        for f in factors:
            if f.free_symbols & set(self.matrix_of):
                mats.append(self.matrix(f, shape))
            else:
                coeff *= f
        flat = []
        for m in mats:
            flat.extend(m.args if isinstance(m, sp.HadamardProduct) else [m])
        body = flat[0] if len(flat) == 1 else sp.HadamardProduct(*flat)
        return _scaled(coeff, body)


def _matmul(mats):
    """A product without SymPy's canonical rewriting (slow): nested products flattened, coefficients in front."""
    coeff, flat = sp.Integer(1), []
    for m in mats:
        if isinstance(m, sp.MatMul):
            c, ms = m.as_coeff_matrices()
            coeff, flat = coeff * c, flat + list(ms)
        else:
            flat.append(m)
    return _scaled(coeff, flat[0] if len(flat) == 1 else sp.MatMul(*flat))


def _broadcast(e, shape):
    """e stretched to `shape` with ones-vectors (symbolic.broadcast without the canonical product)."""
    r, c = e.shape
    if r == 1 and shape[0] != 1:
        e = sp.MatMul(sy.ones(shape[0], 1), *(e.args if isinstance(e, sp.MatMul) else (e,)))
    if c == 1 and shape[1] != 1:
        e = sp.MatMul(*(e.args if isinstance(e, sp.MatMul) else (e,)), sy.ones(1, shape[1]))
    return e


def _scaled(c, m):
    if c == 1:
        return m
    if isinstance(m, sp.MatMul):
        inner, mats = m.as_coeff_matrices()
        return sp.MatMul(c * inner, *mats) if c * inner != 1 else sp.MatMul(*mats)
    return sp.MatMul(c, m)


def _push_transpose(e):
    """(A ⊙ B)ᵀ = Aᵀ ⊙ Bᵀ, (A + B)ᵀ = Aᵀ + Bᵀ, (A^∘p)ᵀ = (Aᵀ)^∘p: transposes down to the operands."""
    if isinstance(e, sp.MatAdd):
        return sp.MatAdd(*[sp.Transpose(a) for a in e.args])
    if isinstance(e, sp.HadamardProduct):
        return sp.HadamardProduct(*[sp.Transpose(a) for a in e.args])
    return sp.HadamardPower(sp.Transpose(e.args[0]), e.args[1])
