"""The function table: named scalar functions (activations and the rest a class writes), their
derivatives, and the SymPy nodes that apply them (to a number, or entrywise to a matrix).

A new function is one line of ACTIVATIONS: its scalar body in x_; derivatives come from
sympy.diff on the body (the piecewise ones, in STEPS, have theirs written out).
"""
from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr

x_ = sp.Symbol("_x")      # the variable of activation bodies; no problem names a symbol _x

# name -> scalar body in x_. Derivatives come from sympy.diff on the body: a new activation is one line.
ACTIVATIONS: dict[str, sp.Expr] = {
    "sigma": 1 / (1 + sp.exp(-x_)),
    "tanh": sp.tanh(x_),
    "relu": sp.Max(0, x_),
    "softplus": sp.log(1 + sp.exp(x_)),
    "exp": sp.exp(x_),
    "log": sp.log(x_),
    "sqrt": sp.sqrt(x_),
    "abs": sp.Abs(x_),
    "cosh": sp.cosh(x_),
    "sinh": sp.sinh(x_),
    "sech": sp.sech(x_),
    "csch": sp.csch(x_),
    "coth": sp.coth(x_),
    "asinh": sp.asinh(x_),
    "acosh": sp.acosh(x_),
    "atanh": sp.atanh(x_),
    "acoth": sp.acoth(x_),
    "floor": sp.floor(x_),
    "ceil": sp.ceiling(x_),
    "sign": sp.sign(x_),
}
FUNCTION_ALIASES = {"sigmoid": "sigma", "σ": "sigma", "ReLU": "relu", "Relu": "relu", "ln": "log",
                    "Tanh": "tanh", "arsinh": "asinh", "arcsinh": "asinh", "arcosh": "acosh",
                    "arccosh": "acosh", "artanh": "atanh", "arctanh": "atanh", "arcoth": "acoth",
                    "arccoth": "acoth", "ceiling": "ceil", "sgn": "sign"}
# distance of an argument to the points finite differences must stay away from
_TO_ZERO = np.abs
KINKS = {"relu": _TO_ZERO, "abs": _TO_ZERO, "sign": _TO_ZERO,
         "floor": lambda a: np.abs(a - np.round(a)), "ceil": lambda a: np.abs(a - np.round(a))}
STEPS = {"relu", "floor", "ceil", "sign"}        # piecewise: sympy.diff is not the derivative
MATRIX_FUNCTIONS = {"sum", "mean", "softmax", "transpose", "hadamard", "max", "min", "diag"}


def activation_derivative(name: str, order: int) -> sp.Expr:
    body = ACTIVATIONS[name]
    if name in STEPS and order >= 1:
        return sp.Heaviside(x_, 0) if (name, order) == ("relu", 1) else sp.Integer(0)
    return sp.diff(body, x_, order) if order else body


class _Named:
    """args = (name, order, argument): the function's name and how often it is differentiated."""

    @property
    def fname(self) -> str:
        return str(self.args[0])

    @property
    def order(self) -> int:
        return int(self.args[1])


class Fn(_Named, sp.Function):
    """A named scalar function or its derivative: Fn(name, order, x) is name^(order)(x)."""

    nargs = 3

    def fdiff(self, argindex=3):
        if argindex != 3:
            return sp.S.Zero
        return Fn(self.args[0], self.order + 1, self.args[2])


class Apply(_Named, MatrixExpr):
    """A named scalar function (or its derivative) applied entrywise to a matrix."""

    def __new__(cls, fname, order, arg):
        return sp.Basic.__new__(cls, sp.Symbol(str(fname)), sp.Integer(order), arg)

    @property
    def arg(self):
        return self.args[2]

    @property
    def shape(self):
        return self.args[2].shape

    def _entry(self, i, j, **kwargs):
        return Fn(self.args[0], self.args[1], self.args[2]._entry(i, j, **kwargs))


class Softmax(MatrixExpr):
    """softmax over the entries of a column vector."""

    def __new__(cls, arg):
        return sp.Basic.__new__(cls, arg)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return self.args[0].shape


def apply(fname: str, order: int, arg):
    """f^(order)(arg), entrywise when arg is a matrix; exp/log of scalars stay SymPy's own."""
    if isinstance(arg, MatrixExpr):
        return Apply(fname, order, arg)
    if order == 0 and fname in ("exp", "log", "sqrt", "tanh"):
        return {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "tanh": sp.tanh}[fname](arg)
    if order == 0 and fname == "abs":
        return sp.Abs(arg)
    return Fn(sp.Symbol(fname), order, arg)


