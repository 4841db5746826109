"""The matrix vocabulary every stage speaks: shapes, ones-vectors, broadcasting and its adjoint,
sums of entries, the Hadamard product of scalars and matrices."""
from __future__ import annotations

import functools

import sympy as sp
from sympy.matrices.expressions import MatrixExpr


class OnesVector:
    """\\mathbf{1} without a size: a ones-vector sized by the product it stands in (1ᵀX sums X's
    rows, X1 its columns); anywhere else it is the number 1 (1 - σ is entrywise)."""

    def __init__(self, row: bool = False, sign: int = 1):
        self.row, self.sign = row, sign

    def transposed(self):
        return OnesVector(not self.row, self.sign)


def is_one(e) -> bool:
    """The number 1 as a 1×1 matrix: SymPy turns OneMatrix(1, 1) into Identity(1) whenever it
    evaluates, so `1 - eps` of a 1×1 eps holds an Identity(1) that every printer reads as 1."""
    return isinstance(e, (sp.Identity, sp.OneMatrix)) and e.shape == (1, 1)


def contracting_ones(mats) -> int | None:
    """Where a product's factors hold a ones-vector that sums its neighbour (a row 1^T before it, a
    column 1 after it: 1^T X sums X's rows, X 1 its columns); None where every ones-vector broadcasts."""
    for k, m in enumerate(mats):
        if isinstance(m, sp.OneMatrix) and m.shape != (1, 1):
            if m.shape[0] == 1 and k < len(mats) - 1 or m.shape[1] == 1 and k > 0:
                return k
    return None


def shape_of(e) -> tuple | None:
    return e.shape if isinstance(e, MatrixExpr) else None


def show_shape(shape) -> str:
    return "scalar" if shape is None else f"{dimension(shape[0], str)}×{dimension(shape[1], str)}"


def dimension(d, show) -> str:
    """A size as written: (N - k + 1)/2, not N/2 - k/2 + 1/2; a sum in brackets beside ×."""
    if not isinstance(d, sp.Expr) or d.is_Atom:
        return show(d)
    d = sp.together(d)
    return f"({show(d)})" if isinstance(d, sp.Add) else show(d)


def ones(rows, cols):
    return sp.OneMatrix(rows, cols)


def broadcast(e, shape):
    """e (scalar, 1x1, row or column) stretched to `shape` with ones-vectors."""
    if shape is None or shape_of(e) == shape:
        return e
    try:
        return _stretched(e, shape)
    except TypeError:               # unhashable: not worth remembering
        return _stretch(e, shape)


@functools.lru_cache(maxsize=512)   # a product with a OneMatrix is a SymPy MatMul.doit(), about 1 ms, and
def _stretched(e, shape):           # answers stretch the same few things (1 in 1 - h) again and again
    return _stretch(e, shape)


def _stretch(e, shape):
    if not isinstance(e, MatrixExpr):
        return e * ones(*shape)
    r, c = e.shape
    if r == 1 and shape[0] != 1:
        e = ones(shape[0], 1) * e
    if c == 1 and shape[1] != 1:
        e = e * ones(1, shape[1])
    return e


def total(e):
    """Sum of all entries, as a 1x1 matrix."""
    r, c = e.shape
    if r != 1:
        e = ones(1, r) * e
    if c != 1:
        e = e * ones(c, 1)
    return e


def reduce_to(g, shape):
    """The adjoint of a broadcast: sum g over the stretched axes so it has `shape`."""
    if shape is None:
        return g
    r, c = shape
    if g.shape[0] != r:
        g = ones(1, g.shape[0]) * g
    if g.shape[1] != c:
        g = g * ones(g.shape[1], 1)
    return g


def hadamard(*factors):
    mats = [f for f in factors if isinstance(f, MatrixExpr)]
    if not mats:
        return sp.Mul(*factors)
    scal = sp.Mul(*[f for f in factors if not isinstance(f, MatrixExpr)])
    return scal * (mats[0] if len(mats) == 1 else sp.HadamardProduct(*mats))
