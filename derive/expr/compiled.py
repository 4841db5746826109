"""Trusted expressions (a problem's forward equations and closed forms) compiled once into nested
Python closures over numpy, then evaluated many times: no SymPy and no tree walk per evaluation.

Each closure performs exactly the numpy operations of numeric.Evaluator, in the same order, so the
values are the same to the last bit; a construct without values raises the same EvalError when (and
only when) it is evaluated. A student's answer, once built, is compiled too (`once`: evaluated at
all its decision points; small answers are remembered by value), and so are the closed forms the
dead-unit property descends along (verify/descent.py).
"""
from __future__ import annotations

import collections
import functools
import threading

import numpy as np
import sympy as sp

from derive.errors import EvalError
from derive.expr import functions as sy
from derive.expr.matrix_ops import Op
from derive.expr.numeric import _DIM_NAMES, _NO_X, _WORDS, Evaluator, _no_value, body_variable, matrix_product
from derive.runtime import limits
from derive.runtime.memo import IdMemo


class _Context:
    """What a compiled expression is evaluated in: the values (read only: a reference's point is
    shared by every thread that checks at it), the dimensions, the stand-ins, and x_ inside the
    function body being evaluated (one context per evaluation, so never shared)."""
    __slots__ = ("env", "dims", "functions", "x")

    def __init__(self, env, dims, functions):
        self.env, self.dims, self.functions, self.x = env, _DIM_NAMES(dims), functions or {}, _NO_X


def evaluate(expr, env: dict, dims: dict, functions: dict | None = None):
    """numeric.evaluate of a trusted expression, compiled on first use (per expression object)."""
    with np.errstate(all="ignore"):
        return run(expr, _Context(env, dims, functions))


def context(env: dict, dims: dict, functions: dict | None = None) -> _Context:
    """Where several expressions are evaluated in turn (env may grow between them)."""
    return _Context(env, dims, functions)


def run(expr, ctx: _Context):
    """One expression in a context; the caller holds np.errstate(all="ignore") as evaluate does."""
    limits.check()
    return compile_expr(expr)(ctx)


def _size(e, comp):
    """A dimension (a number, a symbol or an expression in them) as an int at the context."""
    if isinstance(e, (int, float)) or e.is_Number:
        n = int(round(float(e)))
        return lambda c: n
    f = comp(e)
    return lambda c: int(round(float(f(c))))


def _scalar_function(c, x, body):
    """A function's body (compiled, from _bodies) at x."""
    limits.check()
    saved, c.x = c.x, x
    try:
        out = body(c)
    finally:
        c.x = saved
    if not isinstance(x, np.ndarray) or (type(out) is np.ndarray and out.shape == x.shape and out.dtype == x.dtype):
        return out                     # (already x's shape: times ones would be the same array, copied)
    return out * np.ones_like(x)


def _bodies(fname, order):
    """The compiled body of fname's derivative for a context, remembered for the last stand-in seen
    (by identity; None: the activation table's own function). The stand-in or activation has no
    body: EvalError, as the walker raises."""
    last = [(_bodies, None)]          # one (stand-in, compiled body) pair, replaced whole (threads share it)

    def body(c):
        src = c.functions.get(fname)
        hit = last[0]
        if hit[0] is not src:
            hit = (src, compile_expr(Evaluator.body(c, fname, order)))
            last[0] = hit
        return hit[1]
    return body


def _compile(e, comp):
    if isinstance(e, (int, float)) or e.is_Number:
        v = float(e)
        return lambda c: v
    if isinstance(e, Op):              # matrix_ops, conv_ops evaluate themselves (their names may be Min, Max)
        return _walked(e)
    rule = _RULES.get(type(e).__name__)
    if rule is not None:
        return rule(e, comp)
    if isinstance(e, sp.NumberSymbol):                 # e, pi
        v = float(e)
        return lambda c: v
    native = sy.NATIVE.get(type(e))
    if native is not None:                             # SymPy's own erf, cosh, Abs: the function table's row
        f = comp(e.args[0])
        return lambda c: native.numeric(f(c))
    if isinstance(e, sp.Heaviside):
        f = comp(e.args[0])
        return lambda c: np.where(np.asarray(f(c)) > 0, 1.0, 0.0)
    message = f"it contains {_WORDS.get(type(e).__name__, f'this kind of expression ({type(e).__name__})')}, " \
              "which has no value here"

    def fail(c):
        raise EvalError(message)
    return fail


def _walked(e):
    """e evaluated by the walker (numeric.Evaluator) in the compiled expression's context."""
    def f(c):
        ev = Evaluator.__new__(Evaluator)
        ev.env, ev.dims, ev.functions, ev.x = c.env, c.dims, c.functions, c.x
        return ev(e)
    return f


compile_expr = IdMemo(lambda e: _compile(e, compile_expr))    # trusted expressions, kept per object


def once(expr):
    """expr compiled for the evaluations of one check: an answer, so not kept per object (each check
    builds its own). A small answer is remembered by its value, since classmates' answers build to
    the same expression (`delta2 x^T`, `delta2 @ x.T`, `1/1 delta2 x^T`): ANSWERS of them, each of at
    most ANSWER_NODES distinct subexpressions."""
    with _answers_lock:
        hit = _answers.get(expr)
        if hit is not None:
            _answers.move_to_end(expr)
            return hit
    memo: dict = {}

    def comp(e):
        hit = memo.get(id(e))
        if hit is not None and hit[0] is e:
            return hit[1]
        f = _compile(e, comp)
        memo[id(e)] = (e, f)
        return f
    fn = comp(expr)
    if len(memo) <= ANSWER_NODES:
        with _answers_lock:
            _answers[expr] = fn
            if len(_answers) > ANSWERS:
                _answers.popitem(last=False)
    return fn


def once_or_none(expr):
    """once(expr) for a SymPy expression, or None where it is not one or cannot be compiled (the
    walker, numeric.evaluate, then evaluates it and reports what is wrong)."""
    if not isinstance(expr, sp.Basic):
        return None
    try:
        return once(expr)
    except Exception:         # noqa: BLE001 — see above
        return None


ANSWERS, ANSWER_NODES = 512, 64
_answers: collections.OrderedDict = collections.OrderedDict()      # expression -> its compiled function
_answers_lock = threading.Lock()


def run_once(fn, env: dict, dims: dict, functions: dict | None = None):
    """A function from once() evaluated as numeric.evaluate evaluates its expression."""
    with np.errstate(all="ignore"):
        return fn(_Context(env, dims, functions))


def _args(e, comp):
    return [comp(a) for a in e.args]


_ABSENT = object()


# ---- leaves -------------------------------------------------------------------------------------
def _symbol(e, comp):
    if e == sy.x_:
        return lambda c: body_variable(c.x, c.env)
    name = e.name

    def f(c):
        v = c.env.get(name, _ABSENT)
        if v is not _ABSENT:
            return float(v[0, 0]) if isinstance(v, np.ndarray) and v.shape == (1, 1) else v
        if name in c.dims:
            return float(c.dims[name])
        raise EvalError(_no_value(name))
    return f


def _matrix_symbol(e, comp):
    name, rows, cols = e.name, _size(e.shape[0], comp), _size(e.shape[1], comp)

    def f(c):
        if name not in c.env:
            raise EvalError(_no_value(name))
        return np.asarray(c.env[name], dtype=float).reshape(rows(c), cols(c))
    return f


def _filled(make):
    def rule(e, comp):
        rows, cols = _size(e.shape[0], comp), _size(e.shape[1], comp)
        return lambda c: make((rows(c), cols(c)))
    return rule


def _identity(e, comp):
    n = _size(e.shape[0], comp)
    return lambda c: np.eye(n(c))


# ---- algebra (entrywise on arrays) ----------------------------------------------------------------
def _add(e, comp):
    first, *rest = _args(e, comp)
    if len(rest) == 1:                  # sum(rest, first) with one term: the same addition
        second = rest[0]
        return lambda c: first(c) + second(c)
    return lambda c: sum((f(c) for f in rest), first(c))


def _mul(e, comp):
    first, *rest = _args(e, comp)
    if len(rest) == 1:
        second = rest[0]
        return lambda c: first(c) * second(c)

    def f(c):
        out = first(c)
        for g in rest:
            out = out * g(c)
        return out
    return f


def _pow(e, comp):
    b, p = _args(e, comp)
    return lambda c: np.power(b(c), p(c))


def _unary(fn):
    def rule(e, comp):
        a = comp(e.args[0])
        return lambda c: fn(a(c))
    return rule


def _reduce(fn):
    def rule(e, comp):
        fs = _args(e, comp)
        return lambda c: functools.reduce(fn, [np.asarray(f(c), dtype=float) for f in fs])
    return rule


def _fn(e, comp):
    a, body = comp(e.args[2]), _bodies(e.fname, e.order)
    return lambda c: _scalar_function(c, a(c), body(c))


def _apply(e, comp):
    a, body = comp(e.arg), _bodies(e.fname, e.order)
    return lambda c: _scalar_function(c, np.asarray(a(c), dtype=float), body(c))


# ---- matrices -------------------------------------------------------------------------------------
def _matmul(e, comp):
    fs = _args(e, comp)
    if len(fs) == 2:                 # matrix_product of two values, without the generator
        fa, fb = fs

        def two(c):
            a = fa(c)
            b = fb(c)
            if getattr(a, "ndim", 0) == 0 or getattr(b, "ndim", 0) == 0:    # np.ndim of a number or an array
                return a * b
            if a.shape[1] != b.shape[0]:
                raise EvalError(f"matrix product of {a.shape} and {b.shape}")
            return a @ b
        return two
    return lambda c: matrix_product(g(c) for g in fs)


def _matpow(e, comp):
    b, p = _args(e, comp)

    def f(c):
        base, q = np.asarray(b(c), dtype=float), p(c)
        if np.ndim(base) == 0 or base.shape == (1, 1):
            return np.power(base, q)
        if float(q) != int(q) or base.shape[0] != base.shape[1]:
            raise EvalError(f"matrix power {q} of a {base.shape} matrix")
        return np.linalg.matrix_power(base, int(q))
    return f


def _transpose(e, comp):
    a = comp(e.arg)
    return lambda c: np.asarray(a(c)).T


def _softmax(e, comp):
    a = comp(e.arg)

    def f(c):
        z = np.asarray(a(c), dtype=float)
        z = np.exp(z - z.max())
        return z / z.sum()
    return f


def _diag(e, comp):
    a = comp(e.args[0])
    return lambda c: np.diag(np.asarray(a(c)).ravel())


def _element(e, comp):
    m, i, j = _args(e, comp)
    return lambda c: m(c)[int(i(c)), int(j(c))]


def _delta(e, comp):
    a, b = _args(e, comp)
    return lambda c: 1.0 if a(c) == b(c) else 0.0


_OPS = {sp.Eq: np.equal, sp.Ne: np.not_equal, sp.Lt: np.less, sp.Le: np.less_equal, sp.Gt: np.greater,
        sp.Ge: np.greater_equal}


def _condition(cond, comp):
    if cond == sp.true:
        return lambda c: True
    if type(cond) in _OPS:
        op, (a, b) = _OPS[type(cond)], _args(cond, comp)
        return lambda c: op(a(c), b(c))
    if isinstance(cond, sp.And):
        parts = [_condition(a, comp) for a in cond.args]
        return lambda c: all(p(c) for p in parts)
    message = f"cannot evaluate condition {cond}"

    def fail(c):
        raise EvalError(message)
    return fail


def _piecewise(e, comp):
    branches = [(comp(expr), _condition(cond, comp)) for expr, cond in e.args]

    def f(c):
        for value, cond in branches:
            if bool(cond(c)):
                return value(c)
        raise EvalError("no branch of a piecewise expression applies")
    return f


_RULES = {
    "Symbol": _symbol, "MatrixSymbol": _matrix_symbol, "OneMatrix": _filled(np.ones),
    "ZeroMatrix": _filled(np.zeros), "Identity": _identity,
    "Add": _add, "MatAdd": _add, "Mul": _mul, "HadamardProduct": _mul, "Pow": _pow, "HadamardPower": _pow,
    "exp": _unary(np.exp), "log": _unary(np.log), "tanh": _unary(np.tanh), "cosh": _unary(np.cosh),
    "sinh": _unary(np.sinh), "sech": _unary(lambda x: 1 / np.cosh(x)), "csch": _unary(lambda x: 1 / np.sinh(x)),
    "coth": _unary(lambda x: 1 / np.tanh(x)), "asinh": _unary(np.arcsinh), "acosh": _unary(np.arccosh),
    "atanh": _unary(np.arctanh), "acoth": _unary(lambda x: np.arctanh(1 / np.asarray(x, dtype=float))),
    "floor": _unary(np.floor), "ceiling": _unary(np.ceil), "Abs": _unary(np.abs), "sign": _unary(np.sign),
    "Min": _reduce(np.minimum), "Max": _reduce(np.maximum),
    "Fn": _fn, "Apply": _apply, "MatMul": _matmul, "MatPow": _matpow, "Transpose": _transpose,
    "Softmax": _softmax, "DiagMatrix": _diag, "MatrixElement": _element, "KroneckerDelta": _delta,
    "Piecewise": _piecewise,
}
