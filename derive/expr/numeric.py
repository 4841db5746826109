"""Numbers for SymPy trees: a small allow-listed evaluator over numpy (no lambdify).

Every value is a float or a 2-D array. Named functions (activations, and random stand-ins for
abstract ones) are scalar SymPy bodies in functions.x_, evaluated by the same walker; SymPy's own
functions in them (cosh, erf) are evaluated as their row of the function table says.
"""
from __future__ import annotations

import functools
import re

import numpy as np
import sympy as sp

from derive.errors import EvalError
from derive.expr import functions as sy
from derive.expr.matrix_ops import Op
from derive.runtime import diskcache, limits
from derive.runtime.memo import IdMemo

# what a student may have written, for the class names SymPy gives it, and what to write instead
_WORDS = {"ImaginaryUnit": ("the imaginary unit (a square root of a negative number)",
                            "keep what sqrt and log apply to positive"),
          "ComplexInfinity": ("a division by zero", "write the expression without it"),
          "NaN": ("an undefined number", "write the expression without it"),
          "Infinity": ("infinity", "write a finite expression"),
          "NegativeInfinity": ("minus infinity", "write a finite expression"),
          "Integral": ("an integral", "write its result"),
          "Derivative": ("a derivative with no formula", "write the derivative out (sign(w) for the derivative "
                         "of abs(w), or give the function's row its derivatives)"),
          "Limit": ("a limit", "write its value")}


@functools.lru_cache(maxsize=4096)
def _derivative(body: sp.Expr, order: int) -> sp.Expr:
    """sympy.diff of a stand-in body, once per (body, order) in the process and kept on disk
    (runtime.diskcache, per body, order and SymPy version) between runs: differentiating the
    stand-ins was most of a cold check of a problem with abstract functions (~50 ms a body)."""
    return diskcache.kept("derivative", (sp.srepr(body), order, sp.__version__),
                          lambda: sp.diff(body, sy.x_, order), _is_expr)


@functools.lru_cache(maxsize=1024)
def _activation_derivative(fname: str, order: int) -> sp.Expr:
    """functions.activation_derivative, kept on disk as _derivative is (sigma's derivatives are
    differentiated by SymPy: ~10 ms each in a fresh process)."""
    return diskcache.kept("activation-derivative", (fname, order, sp.__version__),
                          lambda: sy.activation_derivative(fname, order), _is_expr)


def _is_expr(value) -> bool:
    return isinstance(value, sp.Expr)


_NO_X = object()


def body_variable(x, env: dict):
    """The value of x_ in the function body being evaluated; outside one, env's "__x" (a body
    evaluated on its own, evaluate(body, {"__x": x})), else the KeyError a missing name gives."""
    return env["__x"] if x is _NO_X else x


_DIM_NAMES = IdMemo(lambda dims: {str(k): v for k, v in dims.items()})   # an instance's dims, named once


class Evaluator:
    def __init__(self, env: dict, dims: dict, functions: dict | None = None):
        self.env = env                       # name -> float | ndarray (read only: it may be shared)
        self.dims = _DIM_NAMES(dims)         # dimension name -> int
        self.functions = functions or {}     # abstract name -> body in x_
        self.x = _NO_X                       # x_ inside a function body being evaluated

    def body(self, fname: str, order: int) -> sp.Expr:
        if fname in self.functions:
            return _derivative(self.functions[fname], order)
        if fname in sy.ACTIVATIONS:
            return _activation_derivative(fname, order)
        raise EvalError(f"no values for function {fname}")

    def size(self, d) -> int:
        v = self(d)
        return int(round(float(v)))

    def __call__(self, e):
        if isinstance(e, (int, float)):
            return float(e)
        if e.is_Number:
            return float(e)
        limits.check()
        if isinstance(e, Op):                     # matrix_ops, conv_ops: each op evaluates itself
            return e.numeric(self)
        method = getattr(self, f"_{type(e).__name__}", None)
        if method is None:
            native = sy.NATIVE.get(type(e))
            if native is not None:                # SymPy's own cosh, erf, Abs, ... (the function table's)
                return native.numeric(self(e.args[0]))
            if isinstance(e, sp.NumberSymbol):    # e, pi
                return float(e)
            if isinstance(e, sp.Heaviside):
                return np.where(np.asarray(self(e.args[0])) > 0, 1.0, 0.0)
            what, instead = _WORDS.get(type(e).__name__, (f"this kind of expression ({type(e).__name__})",
                                                           "write it with the operations of the notation"))
            raise EvalError(f"it contains {what}, which has no value here; {instead}")
        return method(e)

    # leaves
    def _Symbol(self, e):
        name = e.name
        if e == sy.x_:
            return body_variable(self.x, self.env)
        if name in self.env:
            v = self.env[name]
            return float(v[0, 0]) if isinstance(v, np.ndarray) and v.shape == (1, 1) else v
        if name in self.dims:
            return float(self.dims[name])
        raise EvalError(_no_value(name))

    def _MatrixSymbol(self, e):
        name = e.name
        if name not in self.env:
            raise EvalError(_no_value(name))
        return np.asarray(self.env[name], dtype=float).reshape(self.size(e.shape[0]), self.size(e.shape[1]))

    def _OneMatrix(self, e):
        return np.ones((self.size(e.shape[0]), self.size(e.shape[1])))

    def _ZeroMatrix(self, e):
        return np.zeros((self.size(e.shape[0]), self.size(e.shape[1])))

    def _Identity(self, e):
        return np.eye(self.size(e.shape[0]))

    # scalar algebra (entrywise on arrays)
    def _Add(self, e):
        return sum((self(a) for a in e.args[1:]), self(e.args[0]))

    def _Mul(self, e):
        out = self(e.args[0])
        for a in e.args[1:]:
            out = out * self(a)
        return out

    def _Pow(self, e):
        b, p = self(e.args[0]), self(e.args[1])
        return np.power(b, p)

    def _Min(self, e):
        return functools.reduce(np.minimum, [np.asarray(self(a), dtype=float) for a in e.args])

    def _Max(self, e):
        return functools.reduce(np.maximum, [np.asarray(self(a), dtype=float) for a in e.args])

    def _Fn(self, e):
        return self.scalar_function(e.fname, e.order, self(e.args[2]))

    def scalar_function(self, fname, order, x):
        body = self.body(fname, order)
        saved, self.x = self.x, x           # on this evaluator, never in env, which other threads may read
        try:
            out = self(body)
        finally:
            self.x = saved
        return out * np.ones_like(x) if isinstance(x, np.ndarray) else out

    # matrix algebra
    def _MatAdd(self, e):
        return self._Add(e)

    def _MatMul(self, e):
        return matrix_product(self(a) for a in e.args)

    def _HadamardProduct(self, e):
        return self._Mul(e)

    def _MatPow(self, e):
        base, p = np.asarray(self(e.args[0]), dtype=float), self(e.args[1])
        if np.ndim(base) == 0 or base.shape == (1, 1):
            return np.power(base, p)
        if float(p) != int(p) or base.shape[0] != base.shape[1]:
            raise EvalError(f"matrix power {p} of a {base.shape} matrix")
        return np.linalg.matrix_power(base, int(p))

    def _HadamardPower(self, e):
        return np.power(self(e.args[0]), self(e.args[1]))

    def _Transpose(self, e):
        return np.asarray(self(e.arg)).T

    def _Apply(self, e):
        return self.scalar_function(e.fname, e.order, np.asarray(self(e.arg), dtype=float))

    def _Softmax(self, e):
        z = np.asarray(self(e.arg), dtype=float)
        z = np.exp(z - z.max())
        return z / z.sum()

    def _DiagMatrix(self, e):
        return np.diag(np.asarray(self(e.args[0])).ravel())

    def _MatrixElement(self, e):
        m = self(e.args[0])
        return m[int(self(e.args[1])), int(self(e.args[2]))]

    def _KroneckerDelta(self, e):
        return 1.0 if self(e.args[0]) == self(e.args[1]) else 0.0

    def _Piecewise(self, e):
        for expr, cond in e.args:
            if cond == sp.true or bool(self.condition(cond)):
                return self(expr)
        raise EvalError("no branch of a piecewise expression applies")

    def condition(self, c):
        ops = {sp.Eq: np.equal, sp.Ne: np.not_equal, sp.Lt: np.less, sp.Le: np.less_equal,
               sp.Gt: np.greater, sp.Ge: np.greater_equal}
        if type(c) in ops:
            return ops[type(c)](self(c.args[0]), self(c.args[1]))
        if isinstance(c, sp.And):
            return all(self.condition(a) for a in c.args)
        raise EvalError(f"cannot evaluate condition {c}")


def _no_value(name: str) -> str:
    m = re.fullmatch(r"d(\w+)/d\1", name)
    if m:
        return f"{name} is 1 (a quantity's derivative with respect to itself); write 1"
    return f"{name} has no value in this problem; write it in the problem's inputs and named gradients"


def matrix_product(values):
    """The product of the values in order (numbers scale; arrays multiply as matrices)."""
    out = None
    for v in values:
        if out is None:
            out = v
        elif np.ndim(out) == 0 or np.ndim(v) == 0:
            out = out * v
        else:
            if out.shape[1] != v.shape[0]:
                raise EvalError(f"matrix product of {out.shape} and {v.shape}")
            out = out @ v
    return out


def evaluate(expr, env: dict, dims: dict, functions: dict | None = None):
    with np.errstate(all="ignore"):
        return Evaluator(env, dims, functions)(expr)


def norm(x):
    """np.linalg.norm(x) of a float array (its Frobenius norm), by the same operations without its
    argument checks: sqrt of the raveled array's dot with itself."""
    v = x.ravel(order="K")
    return np.sqrt(v.dot(v))


def rel_error(a, b, b_norm=None) -> float:
    """|a - b| / max(|a|, |b|) (Frobenius norms; |a - b| where both are below 1e-12); `b_norm`:
    norm(b), where the caller keeps it (a reference's value, compared with many answers)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return float("inf")
    scale = max(norm(a), norm(b) if b_norm is None else b_norm)
    diff = norm(a - b)
    return float(diff / scale) if scale > 1e-12 else float(diff)
