"""A forward expression as the graph's operator tree: each SymPy node becomes (kind, parameter,
children), the way a textbook draws it (1_N^T X as a sum, broadcasting by ones as a plain edge)."""
from __future__ import annotations

import sympy as sp
from sympy.core.function import _coeff_isneg

from derive.errors import UnsupportedError
from derive.expr import functions as sy
from derive.expr import matrix as mx
from derive.expr.matrix_ops import Op


def _neg_stripped(t):
    return -t if _coeff_isneg(t) else None


def decompose(e, names):
    """(kind, param, children) of an expression; kind 'ref' for a named node, 'const' for a number."""
    if isinstance(e, (sp.Symbol, sp.MatrixSymbol)) and str(e) in names:
        return "ref", str(e), ()
    if isinstance(e, (sp.Number, sp.NumberSymbol)) or isinstance(e, sp.Symbol):
        return "const", e, ()
    if isinstance(e, sp.OneMatrix) or mx.is_one(e):
        return "const", sp.Integer(1), ()
    if isinstance(e, (sp.Add, sp.MatAdd)):
        args = list(e.args)
        negs = [_neg_stripped(a) for a in args]
        if len(args) == 2 and sum(n is not None for n in negs) == 1:
            k = 0 if negs[0] is not None else 1
            return "sub", None, (args[1 - k], negs[k])
        return "add", None, tuple(args)
    if isinstance(e, sp.MatMul):
        coeff, mats = e.as_coeff_matrices()
        mats = list(mats)
        k = mx.contracting_ones(mats)
        if k is not None:                  # 1_N^T X sums X's rows, X 1_H its columns: a sum node
            ones, row = mats[k], mats[k].shape[0] == 1
            rest = mats[k + 1:] if row else mats[:k]
            outside = (mats[:k], ()) if row else ((), mats[k + 1:])
            if outside[0] or outside[1]:   # lambda 1^T w: the factor times the sum
                if coeff != 1:
                    return "scale", coeff, (sp.MatMul(*mats),)
                summed = sp.MatMul(ones, *rest) if row else sp.MatMul(*rest, ones)
                return "matmul", None, (*outside[0], summed, *outside[1])
            inner = rest[0] if len(rest) == 1 else sp.MatMul(*rest)
            n = ones.shape[1] if row else ones.shape[0]
            if sp.simplify(coeff * n - 1) == 0:
                return "mean", None, (inner,)
            if coeff == 1:
                return "sum", None, (inner,)
            summed = sp.MatMul(ones, inner) if row else sp.MatMul(inner, ones)
            return ("neg", None, (summed,)) if coeff == -1 else ("scale", coeff, (summed,))
        # broadcasting by ones (1_N b, eps 1_H^T) is drawn as a plain edge
        mats = [m for m in mats if not isinstance(m, sp.OneMatrix)] or mats
        if coeff == -1 and len(mats) == 1:
            return "neg", None, (mats[0],)
        if coeff != 1:
            inner = mats[0] if len(mats) == 1 else sp.MatMul(*mats)
            return "scale", coeff, (inner,)
        if len(mats) == 1:
            return decompose(mats[0], names)
        return "matmul", None, tuple(mats)
    if isinstance(e, sp.Mul):
        coeff, factors = e.as_coeff_mul()
        if coeff == -1 and len(factors) == 1:
            return "neg", None, factors
        return "mul", None, ((coeff,) if coeff != 1 else ()) + tuple(factors)
    if isinstance(e, sp.HadamardProduct):
        return "hadamard", None, tuple(e.args)
    if isinstance(e, sp.HadamardPower):
        return "hpow", e.args[1], (e.args[0],)
    if isinstance(e, sp.Pow):
        if e.base == sp.E:
            return "fn", "exp", (e.exp,)
        return "pow", e.exp, (e.base,)
    if isinstance(e, sp.Transpose):
        return "transpose", None, (e.arg,)
    if isinstance(e, (sy.Fn, sy.Apply)):
        arg = e.args[2]
        return "fn", e.fname + "'" * e.order, (arg,)
    if isinstance(e, sy.Softmax):
        return "softmax", None, (e.arg,)
    if isinstance(e, Op):
        return "matrixop", e.name, e.inputs
    if type(e) in sy.NATIVE:                         # SymPy's own exp, tanh, cosh: a row of the table
        return "fn", sy.NATIVE[type(e)].name, (e.args[0],)
    if isinstance(e, (sp.Max, sp.Min)):                  # max(a, b) of numbers: drawn as the function it is
        return "fn", type(e).__name__.lower(), tuple(e.args)
    raise UnsupportedError(f"the graph has no node for {type(e).__name__} (in {e}); it draws sums, products, "
                           "powers, transposes, softmax and the functions of the function table: write the "
                           "equation with those (a constant as a number: 1 - p, not an identity matrix)")
