"""Names of the matrix operations (expr/matrix_ops.py, expr/conv_ops.py) -> their SymPy nodes,
with the checks a student's or an author's call needs: operand shapes, axes, integer parameters.
Keywords are written name=value inside the call: softmax(Z, axis=1), conv2d(X, K, stride=2)."""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.expr import conv_ops as cv
from derive.expr import matrix_ops as mo
from derive.expr.matrix import shape_of, show_shape
from derive.notation import parser as mp

ALIASES = {"trace": "tr", "inverse": "inv", "logsoftmax": "log_softmax"}
NAMES = frozenset({"log_softmax", "logsumexp", "argmax", "argmin", "tr", "det", "logdet", "inv", "norm",
                   "conv1d", "conv2d", "maxpool1d", "maxpool2d", "flip", "dilate", "unpool1d", "unpool2d", "eye",
                   "amax", "amin"}
                  | set(ALIASES))
KEYWORDS = frozenset({"axis", "stride", "padding", "stride_h", "stride_w", "padding_h", "padding_w"})
MAX_PARAMETER = 64      # a stride, padding or window: numbers a page of homework uses
_ALLOWED = {"softmax": {"axis"}, "log_softmax": {"axis"}, "logsumexp": {"axis"}, "max": {"axis"},
            "min": {"axis"}, "amax": {"axis"}, "amin": {"axis"}, "argmax": {"axis"}, "argmin": {"axis"}, "sum": {"axis"}, "mean": {"axis"},
            "conv1d": {"stride", "padding"}, "conv2d": KEYWORDS - {"axis"}}


def is_keyword(node) -> bool:
    """axis=1 inside a call's brackets: the parser reads it as the equality (axis = 1)."""
    return isinstance(node, mp.Call) and node.fn == "eq" and isinstance(node.args[0], mp.Name) \
        and node.args[0].id in KEYWORDS


def owns(name: str, args: list, kwargs: dict) -> bool:
    """Whether the call is one of these ops (softmax(z), max(a, b) and sum stay the older vocabulary)."""
    name = ALIASES.get(name, name)
    if name in ("softmax", "max", "min"):
        return bool(kwargs) or (name == "softmax" and len(args) > 1)
    return name in NAMES


def check_keywords(b, name: str, kwargs: dict, node) -> None:
    for k in kwargs:
        if k not in _ALLOWED.get(ALIASES.get(name, name), set()):
            allowed = ", ".join(sorted(_ALLOWED.get(name, ()))) or "no keywords"
            raise b.fail(f"{name} takes {allowed}, not {k}=", node, "syntax")


def call(b, name: str, args: list, kwargs: dict, node):
    """The op for name(args, kwargs); `b` is the Builder (for its errors). Its sizes must be whole
    and positive where they are numbers (maxpool2d of a column would be 1/2 wide)."""
    if name in ("amax", "amin"):        # np.max(z, 0), torch.max(z, 1): numpy's reduction along an axis
        if len(args) > 2 or len(args) == 2 and "axis" in kwargs:
            raise b.fail(f"np.{name[1:]} takes an array and an axis", node, "syntax")
        return call(b, name[1:], args[:1], {**kwargs, "axis": args[1]} if len(args) == 2 else kwargs, node)
    if name == "eye":                   # numpy's and Matlab's identity: eye(n) of a dimension n
        if len(args) != 1 or kwargs or not (args[0] in set(b.scope.dims.values()) or
                                            getattr(args[0], "is_Integer", False) and 0 < args[0] <= MAX_PARAMETER):
            raise b.fail("eye takes one size, a dimension of the problem, as in eye(n)", node, "syntax")
        return sp.Identity(args[0])
    op = _call(b, ALIASES.get(name, name), args, kwargs, node)
    for d in op.shape:
        if d.is_number and not (d.is_Integer and d >= 1) or d.is_nonpositive or d.is_integer is False:
            raise b.fail(f"{name} of {', '.join(show_shape(a.shape) for a in op.inputs)} would be "
                         f"{show_shape(op.shape)}: its window, stride or padding does not fit", node)
    return op


def _call(b, name: str, args: list, kwargs: dict, node):
    check_keywords(b, name, kwargs, node)
    if name in ("softmax", "log_softmax", "logsumexp"):
        z = _matrix(b, name, args, node, count=(1, 2))
        axis = axis_of(b, name, args[1:], kwargs, node, z.shape)
        if axis is None:
            if 1 not in z.shape:
                raise b.fail(f"{name} of a {show_shape(z.shape)} matrix needs its axis: {name}(Z, 1) runs along "
                             f"each row, {name}(Z, 0) down each column", node, "syntax")
            axis = mo.along(z.shape)
        return {"softmax": mo.SoftmaxAxis, "log_softmax": mo.LogSoftmax, "logsumexp": mo.LogSumExp}[name](z, axis)
    if name in ("max", "min", "argmax", "argmin"):
        z = _matrix(b, name, args, node, count=(1, 2) if name.startswith("arg") else (1, 1))
        axis = axis_of(b, name, args[1:], kwargs, node, z.shape)
        cls = {"max": mo.Max, "min": mo.Min, "argmax": mo.ArgMax, "argmin": mo.ArgMin}[name]
        return cls(z, mo.ALL if axis is None else axis)
    if name in ("tr", "det", "logdet", "inv"):
        a = _matrix(b, name, args, node)
        if a.shape[0] != a.shape[1]:
            raise b.fail(f"{name} takes a square matrix, not {show_shape(a.shape)}", node)
        return {"tr": mo.Trace, "det": mo.Det, "logdet": mo.LogDet, "inv": mo.Inverse}[name](a)
    if name == "norm":
        return mo.Norm(_matrix(b, name, args, node))
    if name == "flip":
        return cv.Flip(_matrix(b, name, args, node))
    if name in ("conv1d", "conv2d"):
        return _conv(b, name, args, kwargs, node)
    if name in ("maxpool1d", "maxpool2d", "unpool1d", "unpool2d", "dilate"):
        return _pool(b, name, args, node)
    raise b.fail(f"unknown function {name}", node, "unknown_symbol")


def _matrix(b, name, args, node, count=(1, 1)):
    if not count[0] <= len(args) <= count[1]:
        want = "one argument" if count == (1, 1) else f"{count[0]} to {count[1]} arguments"
        raise b.fail(f"{name} takes {want}, not {len(args)}", node, "syntax")
    if not isinstance(args[0], MatrixExpr):
        raise b.fail(f"{name} takes a matrix or a vector, not a scalar", node)
    return args[0]


LAST_AXES = {-1: 1, -2: 0}   # numpy's axis=-1 of a matrix is its axis 1 (the last), -2 its axis 0


def _last_axis(axis, shape):
    """An axis as numpy counts it from the end: -1 of a matrix is its axis 1; of a vector it runs
    along the vector, as along numpy's 1-D arrays (softmax(z, axis=-1) of a column z)."""
    if axis == -1 and shape is not None and 1 in shape and tuple(shape) != (1, 1):
        return 0 if shape[1] == 1 else 1
    return LAST_AXES.get(axis, axis)


def axis_of(b, name, rest, kwargs, node, shape=None):
    """The axis given positionally (rest) or as axis=, as 0 or 1 (numpy's -1 and -2 counted), or None."""
    if rest and "axis" in kwargs:
        raise b.fail(f"{name}: the axis is given twice", node, "syntax")
    axis = kwargs.get("axis", rest[0] if rest else None)
    axis = _last_axis(axis, shape)
    if axis is not None and axis not in (0, 1):
        raise b.fail(f"{name} takes an axis 0 or 1, not {axis}", node, "syntax")
    return None if axis is None else int(axis)


def _size(b, name, v, node, least: int):
    """An integer parameter: a whole number >= least, or an expression in the problem's dimensions."""
    if isinstance(v, MatrixExpr) or not isinstance(v, sp.Expr):
        raise b.fail(f"{name}: a stride, padding or window is a whole number or a dimension, not a "
                     f"{show_shape(shape_of(v))} value", node, "syntax")
    dims = set(b.scope.dims.values())
    if v.free_symbols - dims:
        raise b.fail(f"{name}: {v} is not a whole number or an expression in the dimensions "
                     f"({', '.join(sorted(map(str, dims))) or 'none'})", node, "syntax")
    if v.is_number and not (v.is_Integer and v >= least):
        raise b.fail(f"{name}: {v} must be a whole number of at least {least}", node, "syntax")
    poly = sp.Poly(v, *sorted(v.free_symbols, key=str)) if v.free_symbols and v.is_polynomial() else None
    linear = not v.free_symbols or (poly is not None and poly.total_degree() <= 1)
    if not linear or any(not c.is_Integer or abs(c) > MAX_PARAMETER for c in (poly.coeffs() if poly else [v])):
        raise b.fail(f"{name}: a stride, padding or window is a whole number up to {MAX_PARAMETER}, or a "
                     f"dimension plus or minus one, not {v}", node, "too_complex")
    return v


def _conv(b, name, args, kwargs, node):
    if len(args) != 2 or not all(isinstance(a, MatrixExpr) for a in args):
        raise b.fail(f"{name} takes an input and a kernel, as in {name}(X, K, stride=1, padding=0)", node, "syntax")
    x, k = args
    stride = _size(b, name, kwargs.get("stride", sp.Integer(1)), node, 1)
    pad = _size(b, name, kwargs.get("padding", sp.Integer(0)), node, 0)
    if name == "conv1d":
        if 1 not in x.shape or mo.along(x.shape) != mo.along(k.shape) or 1 not in k.shape:
            raise b.fail(f"conv1d takes two vectors, both columns or both rows, not {show_shape(x.shape)} and "
                         f"{show_shape(k.shape)}; one channel only", node)
        if mo.along(x.shape) == 0:
            return _padded(b, name, cv.Conv(x, k, stride, 1, pad, 0, 1), node)
        return _padded(b, name, cv.Conv(x, k, 1, stride, 0, pad, 1), node)
    sr, sc = (_size(b, name, kwargs.get(f"stride_{a}", stride), node, 1) for a in "hw")
    pr, pc = (_size(b, name, kwargs.get(f"padding_{a}", pad), node, 0) for a in "hw")
    return _padded(b, name, cv.Conv(x, k, sr, sc, pr, pc, 2), node)


def _padded(b, name, op, node):
    """A padding up to the kernel's size - 1 (beyond it, a border of zeros only; unsupported)."""
    for p, k in zip(op.args[4:6], op.args[1].shape):
        if (k - 1 - p).is_negative:
            raise b.fail(f"{name}: a padding of {p} is more than the kernel's size - 1 ({k - 1}); "
                         "pad at most that much", node)
    return op


def _pool(b, name, args, node):
    """maxpool1d(x, k), maxpool2d(X, k) or (X, k_h, k_w); unpool2d(G, X, k); dilate(G, s)."""
    lead = 2 if name.startswith("unpool") else 1
    if not lead + 1 <= len(args) <= lead + (2 if name.endswith("2d") or name == "dilate" else 1) \
            or not all(isinstance(a, MatrixExpr) for a in args[:lead]):
        raise b.fail(f"{name} takes {'a gradient, an input' if lead == 2 else 'an input'} and a window size, "
                     f"as in {name}({'G, X' if lead == 2 else 'X'}, 2)", node, "syntax")
    sizes = [_size(b, name, v, node, 1) for v in args[lead:]]
    kr, kc = sizes if len(sizes) == 2 else sizes * 2
    if name == "dilate":
        return cv.Dilate(args[0], kr, kc)
    x = args[lead - 1]
    if name.endswith("1d"):
        if 1 not in x.shape:
            raise b.fail(f"{name} takes a vector, not {show_shape(x.shape)}; maxpool2d pools a matrix", node)
        kr, kc = (kr, 1) if mo.along(x.shape) == 0 else (1, kc)
    dim = 1 if name.endswith("1d") else 2
    return cv.Unpool(args[0], x, kr, kc, dim) if lead == 2 else cv.MaxPool(x, kr, kc, dim)
