"""Matrix operations beyond the entrywise ones, micrograd style: each class holds its value
(numpy), its vector-Jacobian rule (SymPy, in the forward node's own name once backprop names
it), its shape, and its text, LaTeX, numpy and torch forms.

Row-wise softmax and friends, max/min as reductions and their argmax masks, trace, determinant,
log-determinant, inverse and the Frobenius norm. Convolution and pooling are in conv_ops.py.
Every op's operands come first in `args`, then its integer (or dimension) parameters.
"""
from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.expr import functions as fns
from derive.expr import matrix as mx

ALL = -1        # the axis parameter of a reduction over every entry


def scaled(g, m):
    """g·m for an upstream g that is a number or a 1×1 matrix (broadcast over m)."""
    if not isinstance(g, MatrixExpr):
        return m if g == 1 else g * m
    return mx.hadamard(mx.broadcast(g, m.shape), m)


def as_matrix(g, shape):
    """The upstream gradient as a matrix: the output's seed 1 is a number (a 1×1 output's 1 is Identity(1))."""
    if isinstance(g, MatrixExpr):
        return g
    return g * sp.Identity(1) if shape == (1, 1) else g * mx.ones(*shape)


def stretched(g, shape):
    """A reduction's upstream gradient (N×1, 1×M or 1×1) stretched back over the reduced axis."""
    return mx.broadcast(g, shape) if isinstance(g, MatrixExpr) else g * mx.ones(*shape)


def reduced_shape(shape, axis: int):
    one = sp.S.One
    return (one, one) if axis == ALL else (one, shape[1]) if axis == 0 else (shape[0], one)


def along(shape) -> int:
    """The axis a vector runs along: 0 for a column, 1 for a row."""
    return 1 if shape[0] == 1 and shape[1] != 1 else 0


def value(ev, a) -> np.ndarray:
    """An operand's value as a 2-d array of its shape (a scalar where a 1×1 stands for one)."""
    shape = getattr(a, "shape", (1, 1))
    return np.array(np.broadcast_to(np.asarray(ev(a), dtype=float), tuple(ev.size(d) for d in shape)))


def _np_axis(axis: int) -> str:
    return "(0, 1)" if axis == ALL else str(axis)


class Op(MatrixExpr):
    """A matrix operation: `inputs` (matrices) then integer parameters."""

    name = ""                 # as a student writes it: softmax, tr, conv2d
    tex = ""                  # its LaTeX operator name (\operatorname{...} unless a command)
    n_inputs = 1
    rule = ""                 # the step's rule, in words
    meaning = ""              # what a sheet says it is where a result uses it (LaTeX), if not common knowledge

    def __new__(cls, *args):
        return sp.Basic.__new__(cls, *[a if isinstance(a, sp.Basic) else sp.Integer(a) for a in args])

    @property
    def inputs(self) -> tuple:
        return self.args[:self.n_inputs]

    @property
    def params(self) -> tuple:
        return self.args[self.n_inputs:]

    @property
    def arg(self):
        return self.args[0]

    # ---- forms -----------------------------------------------------------------------------
    def param_text(self, show) -> list[str]:
        """The parameters as written after the operands (axis, stride=2, ...)."""
        return []

    def _sympystr(self, p):
        return f"{self.name}({', '.join([p._print(a) for a in self.inputs] + self.param_text(p._print))})"

    def _latex(self, p):
        head = self.tex or rf"\operatorname{{{self.name.replace('_', chr(92) + '_')}}}"
        params = [rf"\mathrm{{{s.split('=', 1)[0]}}}={s.split('=', 1)[1]}" if "=" in s else s
                  for s in self.param_text(p._print)]
        return rf"{head}\left({', '.join([p._print(a) for a in self.inputs] + params)}\right)"

    def code(self, module: str, args: list[str]) -> str:
        raise NotImplementedError

    def _eval_transpose(self):
        return self if self.shape == (1, 1) else None


# ---- softmax, log-softmax, logsumexp along an axis --------------------------------------------
class SoftmaxAxis(Op):
    """softmax(Z, 1): each row normalized (axis 0: each column)."""

    name, rule = "softmax", "the softmax Jacobian along the axis"

    @property
    def axis(self) -> int:
        return int(self.args[1])

    @property
    def shape(self):
        return self.arg.shape

    def param_text(self, show):
        return [str(self.axis)]

    def numeric(self, ev):
        z = value(ev, self.arg)
        z = np.exp(z - z.max(axis=self.axis, keepdims=True))
        return z / z.sum(axis=self.axis, keepdims=True)

    def vjp(self, g):
        """A ⊙ (G − sum(G ⊙ A, axis)): the textbook's form, in the node's name A."""
        g = as_matrix(g, self.shape)
        s = reduce_sum(mx.hadamard(g, self), self.axis)
        return [(self.arg, mx.hadamard(self, g - mx.broadcast(s, self.shape)))]

    def code(self, module, args):
        if module == "torch":
            return f"torch.softmax({args[0]}, dim={self.axis})"
        z = args[0]
        e = f"np.exp({z} - {z}.max(axis={self.axis}, keepdims=True))"
        return f"({e} / {e}.sum(axis={self.axis}, keepdims=True))"


class LogSoftmax(SoftmaxAxis):
    name, tex, rule = "log_softmax", r"\operatorname{logsoftmax}", "the log-softmax Jacobian along the axis"

    def numeric(self, ev):
        z = value(ev, self.arg)
        m = z.max(axis=self.axis, keepdims=True)
        return z - m - np.log(np.exp(z - m).sum(axis=self.axis, keepdims=True))

    def vjp(self, g):
        """G − softmax(Z) ⊙ sum(G, axis)."""
        g = as_matrix(g, self.shape)
        s = mx.broadcast(reduce_sum(g, self.axis), self.shape)
        return [(self.arg, g - mx.hadamard(SoftmaxAxis(self.arg, self.axis), s))]

    def code(self, module, args):
        if module == "torch":
            return f"torch.log_softmax({args[0]}, dim={self.axis})"
        z, a = args[0], self.axis
        return f"({z} - np.log(np.exp({z} - {z}.max(axis={a}, keepdims=True)).sum(axis={a}, keepdims=True)) " \
               f"- {z}.max(axis={a}, keepdims=True))"


class LogSumExp(SoftmaxAxis):
    name, rule = "logsumexp", "the gradient of logsumexp: the softmax along the axis"

    @property
    def shape(self):
        return reduced_shape(self.arg.shape, self.axis)

    def numeric(self, ev):
        z = value(ev, self.arg)
        m = z.max(axis=self.axis, keepdims=True)
        return m + np.log(np.exp(z - m).sum(axis=self.axis, keepdims=True))

    def vjp(self, g):
        """G ⊙ softmax(Z, axis), G stretched along the axis."""
        p = SoftmaxAxis(self.arg, self.axis) if 1 not in self.arg.shape else fns.Softmax(self.arg)
        return [(self.arg, mx.hadamard(stretched(g, self.arg.shape), p))]

    def code(self, module, args):
        if module == "torch":
            return f"torch.logsumexp({args[0]}, dim={self.axis}, keepdim=True)"
        z, a = args[0], self.axis
        return f"({z}.max(axis={a}, keepdims=True) + np.log(np.exp({z} - {z}.max(axis={a}, keepdims=True))" \
               f".sum(axis={a}, keepdims=True)))"


def reduce_sum(x, axis: int):
    """sum(X, axis) with ones-vectors, as the sum function builds it."""
    r, c = x.shape
    return mx.ones(1, r) * x if axis == 0 else x * mx.ones(c, 1)


# ---- max and min as reductions, and the masks of their subgradient ----------------------------
class Max(Op):
    """max(X, axis=1): each row's largest entry; max(x) of a vector (axis ALL): its largest entry."""

    name, rule = "max", "the gradient of a max: all of it goes to the argmax"

    @property
    def axis(self) -> int:
        return int(self.args[1])

    @property
    def shape(self):
        return reduced_shape(self.arg.shape, self.axis)

    def param_text(self, show):
        return [] if self.axis == ALL else [f"axis={self.axis}"]

    def numeric(self, ev):
        z = value(ev, self.arg)
        f = np.max if self.name == "max" else np.min
        return f(z, keepdims=True) if self.axis == ALL else f(z, axis=self.axis, keepdims=True)

    def vjp(self, g):
        mask = (ArgMax if self.name == "max" else ArgMin)(self.arg, self.axis)
        return [(self.arg, mx.hadamard(stretched(g, self.arg.shape), mask))]

    def code(self, module, args):
        z = args[0]
        if module == "torch":
            f = "amax" if self.name == "max" else "amin"
            return f"{z}.{f}(dim={_np_axis(self.axis)}, keepdim=True)"
        return f"{z}.{self.name}(axis={_np_axis(self.axis)}, keepdims=True)"


class Min(Max):
    name, rule = "min", "the gradient of a min: all of it goes to the argmin"


class ArgMax(Max):
    """argmax(X, axis=1): 1 at each row's largest entry (the first of ties, as torch.max(X, 1)
    picks), 0 elsewhere — the subgradient of max. Its own derivative is 0."""

    name, rule = "argmax", "argmax is constant almost everywhere"

    @property
    def shape(self):
        return self.arg.shape

    def numeric(self, ev):
        z = value(ev, self.arg)
        pick = np.argmax if self.name == "argmax" else np.argmin
        out = np.zeros_like(z)
        if self.axis == ALL:
            out.flat[pick(z)] = 1.0
        elif self.axis == 1:
            out[np.arange(z.shape[0]), pick(z, axis=1)] = 1.0
        else:
            out[pick(z, axis=0), np.arange(z.shape[1])] = 1.0
        return out

    def vjp(self, g):
        return [(self.arg, sp.ZeroMatrix(*self.arg.shape))]

    def code(self, module, args):
        z, a = args[0], self.axis
        if module == "torch":
            eye, n, f = "torch.eye({}, dtype=torch.float64)", {0: "shape[0]", 1: "shape[1]"}.get(a, "numel()"), \
                f"{self.name}(dim={a})" if a != ALL else f"{self.name}()"
        else:
            eye, n, f = "np.eye({})", {0: "shape[0]", 1: "shape[1]"}.get(a, "size"), \
                f"{self.name}(axis={a})" if a != ALL else f"{self.name}()"
        hot = f"{eye.format(f'{z}.{n}')}[{z}.{f}]"
        return {0: f"{hot}.T", 1: hot}.get(a, f"{hot}.reshape({z}.shape)")


class ArgMin(ArgMax):
    name = "argmin"


# ---- linear algebra: scalars of a square matrix, its inverse, the Frobenius norm ---------------
class Scalar(Op):
    """An op whose value is 1×1."""

    @property
    def shape(self):
        return (sp.Integer(1), sp.Integer(1))


class Trace(Scalar):
    name, tex, rule = "tr", r"\operatorname{tr}", "the gradient of a trace"

    def numeric(self, ev):
        return np.array([[np.trace(value(ev, self.arg))]])

    def vjp(self, g):
        return [(self.arg, scaled(g, sp.Identity(self.arg.shape[0])))]

    def code(self, module, args):
        return f"{module}.trace({args[0]}).reshape(1, 1)"


class Det(Scalar):
    name, tex, rule = "det", r"\det", "the gradient of a determinant"

    def numeric(self, ev):
        return np.array([[np.linalg.det(value(ev, self.arg))]])

    def vjp(self, g):
        return [(self.arg, scaled(g, mx.hadamard(mx.broadcast(self, self.arg.shape), Inverse(self.arg).T)))]

    def code(self, module, args):
        return f"{module}.linalg.det({args[0]}).reshape(1, 1)"


class LogDet(Scalar):
    """log |det A| (numpy's slogdet; torch.logdet where det A > 0): its gradient is A^{-T} either way."""

    name, tex, rule = "logdet", r"\log\det", "the gradient of a log-determinant"

    def numeric(self, ev):
        return np.array([[np.linalg.slogdet(value(ev, self.arg))[1]]])

    def vjp(self, g):
        return [(self.arg, scaled(g, Inverse(self.arg).T))]

    def _latex(self, p):
        return rf"\log\det\left({p._print(self.arg)}\right)"

    def code(self, module, args):
        return f"{module}.linalg.slogdet({args[0]})[1].reshape(1, 1)"


class Norm(Scalar):
    """The Frobenius norm of a matrix (the 2-norm of a vector)."""

    name, rule = "norm", "the gradient of a norm"

    def numeric(self, ev):
        return np.array([[np.linalg.norm(value(ev, self.arg))]])

    def vjp(self, g):
        inv = mx.broadcast(sp.HadamardPower(self, -1), self.arg.shape)
        return [(self.arg, scaled(g, mx.hadamard(self.arg, inv)))]

    def _latex(self, p):
        sub = "_F" if 1 not in self.arg.shape else ""
        return rf"\left\|{p._print(self.arg)}\right\|{sub}"

    def code(self, module, args):
        return f"{module}.linalg.norm({args[0]}).reshape(1, 1)"


class Inverse(Op):
    """The inverse of a square matrix: A^{-1}."""

    name, rule = "inv", "the gradient of a matrix inverse"

    @property
    def shape(self):
        return self.arg.shape

    def numeric(self, ev):
        return np.linalg.inv(value(ev, self.arg))

    def vjp(self, g):
        """−B^T G B^T for B = A^{-1}."""
        return [(self.arg, -(self.T * g * self.T))]

    def _latex(self, p):
        return rf"{p.parenthesize(self.arg, 1000, strict=True)}^{{-1}}"

    def code(self, module, args):
        return f"{module}.linalg.inv({args[0]})"


OPS = (SoftmaxAxis, LogSoftmax, LogSumExp, Max, Min, ArgMax, ArgMin, Trace, Det, LogDet, Norm, Inverse)
