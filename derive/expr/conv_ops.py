"""Convolution and max-pooling of one channel, as torch computes them (conv is the valid
cross-correlation), each beside its vector-Jacobian rule (see matrix_ops.py for the pattern).

Shapes are dimension expressions: conv2d of an H×W input with a k×k kernel, stride s and
padding p is ((H + 2p − k)/s + 1)×(...), which the verification instantiates with whole sizes.
A 1-d op is the 2-d one with a window of width 1 across the vector (so one rule serves both):
conv1d(x, w) of columns is conv2d with a k×1 kernel. Backward, in the textbook's words:
dL/dK = conv2d(X, dL/dY) and dL/dX = the full convolution of dL/dY with the flipped kernel;
with a stride, dL/dY is first dilated (zeros between its entries).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from derive.errors import ShapeError, UnsupportedError
from derive.expr.matrix_ops import Op, as_matrix, value


def _ints(ev, *params) -> list[int]:
    return [ev.size(p) for p in params]


class Conv(Op):
    """conv2d(X, K, stride=s, padding=p); args (X, K, stride_r, stride_c, pad_r, pad_c, dim)."""

    n_inputs, rule = 2, "the gradient of a convolution"
    meaning = (r"$\operatorname{conv}$ is the cross-correlation of deep-learning libraries (the kernel is not "
               r"flipped); padding $p$ adds $p$ rows and columns of zeros around its input")

    @property
    def name(self) -> str:
        return f"conv{int(self.args[6])}d"

    @property
    def shape(self):
        (h, w), (kh, kw) = self.args[0].shape, self.args[1].shape
        sr, sc, pr, pc = self.args[2:6]
        return ((h + 2 * pr - kh) / sr + 1, (w + 2 * pc - kw) / sc + 1)

    def param_text(self, show):
        return _spacing(self, (("stride", self.args[2], self.args[3], 1), ("padding", self.args[4], self.args[5], 0)),
                        show)

    def numeric(self, ev):
        x, k = (value(ev, a) for a in self.inputs)
        sr, sc, pr, pc = _ints(ev, *self.args[2:6])
        if k.shape[0] > x.shape[0] + 2 * pr or k.shape[1] > x.shape[1] + 2 * pc or min(pr, pc) < 0:
            raise ShapeError(f"{self.name}: the kernel ({k.shape[0]}×{k.shape[1]}) is larger than the input "
                            f"({x.shape[0]}×{x.shape[1]}, padded by {pr}, {pc})")
        windows = sliding_window_view(np.pad(x, ((pr, pr), (pc, pc))), k.shape)[::sr, ::sc]
        return np.einsum("ijkl,kl->ij", windows, k)

    def vjp(self, g):
        g = as_matrix(g, self.shape)
        x, k = self.inputs
        sr, sc, pr, pc, dim = self.args[2:]
        d = Dilate(g, sr, sc) if (sr, sc) != (1, 1) else g
        kh, kw = k.shape
        return [(k, Conv(x, d, 1, 1, pr, pc, dim)),
                (x, Conv(d, Flip(k), 1, 1, kh - 1 - pr, kw - 1 - pc, dim))]

    def code(self, module, args):
        x, k = args
        sr, sc, pr, pc = self.args[2:6]
        if module == "torch":
            return f"torch.nn.functional.conv2d({x}[None, None], {k}[None, None], stride=({sr}, {sc}), " \
                   f"padding=({pr}, {pc}))[0, 0]"
        pad = x if (pr, pc) == (0, 0) else f"np.pad({x}, (({pr}, {pr}), ({pc}, {pc})))"
        step = "" if (sr, sc) == (1, 1) else f"[::{sr}, ::{sc}]"
        return f'np.einsum("ijkl,kl->ij", np.lib.stride_tricks.sliding_window_view({pad}, {k}.shape){step}, {k})'


def _spacing(op, specs, show) -> list[str]:
    """stride=2 / padding=k - 1 where both axes agree (or along the vector of a 1-d op);
    stride_h=..., stride_w=... where they differ. specs: (word, rows' value, columns' value, default)."""
    out = []
    for word, r, c, default in specs:
        if int(op.args[-1]) == 1:
            v = r if op.args[0].shape[1] == 1 else c
            out += [f"{word}={show(v)}"] if v != default else []
        elif r == c:
            out += [f"{word}={show(r)}"] if r != default else []
        else:
            out += [f"{word}_h={show(r)}", f"{word}_w={show(c)}"]
    return out


def _fits(op, window, shape) -> None:
    if window[0] > shape[0] or window[1] > shape[1]:
        raise ShapeError(f"{op.name}: the window ({window[0]}×{window[1]}) is larger than the input "
                         f"({shape[0]}×{shape[1]})")


class Flip(Op):
    """flip(K): the kernel turned by 180° (a vector reversed)."""

    name, rule = "flip", "a flip is its own adjoint"
    meaning = r"$\operatorname{flip}(K)$ is $K$ turned by $180^\circ$ (a vector reversed)"

    @property
    def shape(self):
        return self.arg.shape

    def numeric(self, ev):
        return value(ev, self.arg)[::-1, ::-1]

    def vjp(self, g):
        return [(self.arg, Flip(as_matrix(g, self.shape)))]

    def code(self, module, args):
        return f"torch.flip({args[0]}, (0, 1))" if module == "torch" else f"{args[0]}[::-1, ::-1]"


class Dilate(Op):
    """dilate(G, s): s − 1 zeros between neighbouring entries (the adjoint of a stride)."""

    name, rule = "dilate", "the gradient of a dilation: every s-th entry"
    meaning = r"$\operatorname{dilate}(G, s)$ puts $s - 1$ zeros between neighbouring entries of $G$"

    @property
    def shape(self):
        (r, c), (sr, sc) = self.arg.shape, self.args[1:3]
        return (sr * (r - 1) + 1, sc * (c - 1) + 1)

    def param_text(self, show):
        sr, sc = self.args[1:3]
        r, c = self.arg.shape           # a column (a row) is dilated along its length only: dilate(g, 2)
        if sr == sc or c == 1 or r == 1:
            return [show(sc if r == 1 and c != 1 else sr)]
        return [show(sr), show(sc)]

    def numeric(self, ev):
        g = value(ev, self.arg)
        sr, sc = _ints(ev, *self.args[1:3])
        out = np.zeros((sr * (g.shape[0] - 1) + 1, sc * (g.shape[1] - 1) + 1))
        out[::sr, ::sc] = g
        return out

    def vjp(self, g):
        raise UnsupportedError("dilate is the adjoint of a stride and has no rule of its own here; write the "
                               "strided convolution itself, conv2d(X, K, stride=s)")

    def code(self, module, args):
        sr, sc = self.args[1:3]
        unit = "torch.eye(1, {n}, dtype=torch.float64)" if module == "torch" else "np.eye(1, {n})"
        g = args[0]
        return f"{module}.kron({g}, {unit.format(n=sr * sc)}.reshape({sr}, {sc}))" \
               f"[:({g}.shape[0] - 1) * {sr} + 1, :({g}.shape[1] - 1) * {sc} + 1]"


class MaxPool(Op):
    """maxpool2d(X, k): the largest entry of each k×k window, stride k (torch's default);
    args (X, k_r, k_c, dim)."""

    rule = "the gradient of max-pooling: it goes to each window's argmax"

    @property
    def name(self) -> str:
        return f"maxpool{int(self.args[3])}d"

    @property
    def shape(self):
        (h, w), (kr, kc) = self.arg.shape, self.args[1:3]
        return (h / kr, w / kc)

    def param_text(self, show):
        kr, kc = self.args[1:3]
        if int(self.args[3]) == 1:
            return [show(kr if self.arg.shape[1] == 1 else kc)]
        return [show(kr)] if kr == kc else [show(kr), show(kc)]

    def numeric(self, ev):
        x = value(ev, self.arg)
        kr, kc = _ints(ev, *self.args[1:3])
        _fits(self, (kr, kc), x.shape)
        return sliding_window_view(x, (kr, kc))[::kr, ::kc].max(axis=(2, 3))

    def vjp(self, g):
        return [(self.arg, Unpool(as_matrix(g, self.shape), self.arg, *self.args[1:]))]

    def code(self, module, args):
        kr, kc = self.args[1:3]
        if module == "torch":
            return f"torch.nn.functional.max_pool2d({args[0]}[None, None], ({kr}, {kc}))[0, 0]"
        return f"np.lib.stride_tricks.sliding_window_view({args[0]}, ({kr}, {kc}))[::{kr}, ::{kc}].max(axis=(2, 3))"


class Unpool(Op):
    """unpool2d(G, X, k): each entry of G put at its window's argmax in X (the first of ties,
    row by row, as torch picks), zeros elsewhere — the adjoint of maxpool2d(X, k)."""

    n_inputs, rule = 2, "the gradient of unpooling: a constant routing"
    meaning = (r"$\operatorname{unpool}(G, X, k)$ puts each entry of $G$ where the largest entry of its "
               r"$k \times k$ window of $X$ is, and zeros elsewhere")

    @property
    def name(self) -> str:
        return f"unpool{int(self.args[4])}d"

    @property
    def shape(self):
        return self.args[1].shape

    def param_text(self, show):
        return MaxPool(self.args[1], *self.args[2:]).param_text(show)

    def numeric(self, ev):
        g, x = (value(ev, a) for a in self.inputs)
        kr, kc = _ints(ev, *self.args[2:4])
        _fits(self, (kr, kc), x.shape)
        windows = sliding_window_view(x, (kr, kc))[::kr, ::kc]
        ho, wo = windows.shape[:2]
        flat = windows.reshape(ho, wo, kr * kc)
        hot = np.zeros_like(flat)
        np.put_along_axis(hot, flat.argmax(axis=2)[..., None], 1.0, axis=2)
        out = np.zeros_like(x)
        out[:ho * kr, :wo * kc] = (hot * g[..., None]).reshape(ho, wo, kr, kc).transpose(0, 2, 1, 3) \
            .reshape(ho * kr, wo * kc)
        return out

    def vjp(self, g):
        raise UnsupportedError(f"{self.name} is the adjoint of max-pooling and has no rule of its own here; write "
                               f"the pooling itself, maxpool{int(self.args[4])}d(X, k)")

    def code(self, module, args):
        g, x = args
        kr, kc = self.args[2:4]
        if module == "torch":
            f = "torch.nn.functional"
            return f"{f}.max_unpool2d({g}[None, None], {f}.max_pool2d({x}[None, None], ({kr}, {kc}), " \
                   f"return_indices=True)[1], ({kr}, {kc}), output_size={x}.shape)[0, 0]"
        w = f"np.lib.stride_tricks.sliding_window_view({x}, ({kr}, {kc}))[::{kr}, ::{kc}]"
        return f"np.kron({g}, np.ones(({kr}, {kc}))) * ({x}[:{g}.shape[0] * {kr}, :{g}.shape[1] * {kc}] == " \
               f"np.kron({w}.max(axis=(2, 3)), np.ones(({kr}, {kc}))))"


OPS = (Conv, Flip, Dilate, MaxPool, Unpool)
