"""Index notation: an answer that gives the (i, j) entry of a matrix or vector quantity.

Entries of symbols, forward nodes and given gradients (h_{ij}, \\hat{h}_{kj}, \\gamma_j,
\\sigma^2_j, dL/dy_kl), sums and maxima over a bound index (\\sum_k, \\sum_{k=1}^{N}, sum_k,
\\max_k), Kronecker \\delta_{ij} and indicators 1(i = j). The answer is evaluated directly over
named index axes (numpy broadcasting, no SymPy), at every entry at once: each index ranges over
the axis it labels, and the free indices (the ones not summed) are matched to the quantity's
axes by their sizes (alphabetically, i before j, where the sizes are equal). One index on a matrix
is its row, as a paper's x_i is the i-th example of a batch (Σ_i ∂ℓ/∂y_i x̂_i): the columns are then
a shared implicit axis (ROW_AXIS), along which an unindexed row (γ) runs too.
"""
from __future__ import annotations

import re
from dataclasses import replace
from fractions import Fraction

import numpy as np
import sympy as sp

from derive.errors import AnswerError
from derive.expr import functions as sy
from derive.expr import matrix as mx
from derive.expr.numeric import Evaluator
from derive.notation import parser as mp
from derive.notation.build_ops import is_keyword

_ENTRY = re.compile(r"(.+?)_\{?([a-z]{1,3})\}?")
ROW_AXIS = "·"              # the columns of x_i, the i-th row of a matrix (not an index a student names)
_DELTA = {"delta", "KroneckerDelta"}


class _T:
    """An array over named index axes (one numpy axis per name)."""

    def __init__(self, data, axes=()):
        self.data, self.axes = np.asarray(data, dtype=float), tuple(axes)


MAX_ENTRIES = 200_000       # entries of any intermediate array (an outer product of many indices)


class TooLarge(ValueError):
    """An answer whose index form spans too many entries at once."""


def _align(a: _T, b: _T):
    axes = a.axes + tuple(x for x in b.axes if x not in a.axes)
    for x in set(a.axes) & set(b.axes):
        if a.data.shape[a.axes.index(x)] != b.data.shape[b.axes.index(x)]:
            raise _Mismatch(x)
    size = 1
    for x in axes:
        size *= (a.data.shape[a.axes.index(x)] if x in a.axes else b.data.shape[b.axes.index(x)])
    if size > MAX_ENTRIES:
        raise TooLarge(f"the answer multiplies {len(axes)} indices at once ({size} entries); sum sooner")
    return axes, _expand(a, axes), _expand(b, axes)


def _expand(t: _T, axes):
    order = [t.axes.index(x) for x in axes if x in t.axes]
    d = np.transpose(t.data, order) if order else t.data
    shape = [t.data.shape[t.axes.index(x)] if x in t.axes else 1 for x in axes]
    return d.reshape(shape)


def spans(k: str, bounds: str, size, dims: dict, fail) -> None:
    """Raise fail(message) unless \\sum_{k=lo}^{hi} runs over all `size` values of k: lo is 0 or 1 and
    hi, if written, a number or a dimension ± a number (dims: the problem's dimension names -> their
    values, numbers or SymPy symbols)."""
    lo, _, hi = bounds.partition("..")
    m = re.fullmatch(r"(\d+)|([A-Za-z][A-Za-z0-9_]*)([+-]\d+)?", hi)
    if m and m.group(1):
        top = int(m.group(1))
    elif m and m.group(2) in dims:
        top = dims[m.group(2)] + int(m.group(3) or 0)
    else:
        top = None                      # not written, or not read
    if lo in ("", "0", "1") and (not hi or top is not None and sp.simplify(top - int(lo or 1) + 1 - size) == 0):
        return
    raise fail(f"the sum over {k} ({bounds.replace('..', ' to ')}) does not run over all of {k}'s values: "
               f"write its full range, as \\sum_{{{k}=1}}^{{N}}, or no bounds")


class _Mismatch(Exception):
    def __init__(self, index):
        self.index = index


class IndexForm:
    """An answer in index notation, ready to evaluate at the checker's points."""

    def __init__(self, tree, scope, text: str, shape, free_order=()):
        self.scope, self.text = scope, text
        self.tree = self.squares(tree)
        self.shape = shape                    # the quantity's shape (SymPy), None for a scalar
        self.free_order = tuple(free_order)   # the quantity's own index names, row first, if it has them

    def squares(self, node):
        """\\sigma_j^2 is an entry of the problem's sigma^2 (var_j), not the square of a sigma_j."""
        if isinstance(node, mp.BinOp):
            m = _ENTRY.fullmatch(node.left.id) if isinstance(node.left, mp.Name) else None
            alias = self.scope.aliases.get(f"{m.group(1)}^2") if m else None
            if node.op == "^" and alias and isinstance(node.right, mp.Num) and node.right.text == "2" \
                    and self.scope.lookup_or_none(node.left.id) is None:
                return mp.Name(f"{alias}_{m.group(2)}", node.left.pos)
            left, right = self.squares(node.left), self.squares(node.right)
            return node if left is node.left and right is node.right else replace(node, left=left, right=right)
        if isinstance(node, (mp.Neg, mp.Transpose)):          # (a node without a square stays itself)
            operand = self.squares(node.operand)
            return node if operand is node.operand else replace(node, operand=operand)
        if isinstance(node, mp.Call):
            args = tuple(self.squares(a) for a in node.args)
            return node if all(a is b for a, b in zip(args, node.args)) else replace(node, args=args)
        return node

    # ---- reading names ------------------------------------------------------------------
    def entry(self, name: str):
        """(symbol, indices) for an entry such as hhat_kj or dL/dy_kl, else None."""
        if self.scope.lookup_or_none(name) is not None or name in self.scope.dims:
            return None
        m = _ENTRY.fullmatch(name)
        if not m:
            return None
        base, idx = m.groups()
        sym = self.scope.lookup_or_none(base)
        if sym is None or any(self.scope.lookup_or_none(c) is not None for c in idx if c not in "ijklmn"):
            return None
        return sym, tuple(idx)

    def is_index_form(self) -> bool:
        for n in mp.walk(self.tree):
            if isinstance(n, mp.Name):
                m = _ENTRY.fullmatch(n.id)
                if self.entry(n.id) or (m and m.group(1) in _DELTA and len(m.group(2)) == 2
                                        and self.scope.lookup_or_none(n.id) is None):
                    return True
            if isinstance(n, mp.Call) and n.fn in ("eq",) + mp.BIGOPS and len(n.args) == 2 \
                    and isinstance(n.args[1], mp.Name) and n.fn != "eq" and self._bound(n.args[1]):
                return True
            if isinstance(n, mp.Call) and n.fn == "eq" and not is_keyword(n):
                return True
        return False

    def _bound(self, node) -> bool:
        return re.fullmatch(r"[a-z]", node.id) is not None and self.scope.lookup_or_none(node.id) is None

    def fail(self, message, node, code="shape"):
        return AnswerError(message, getattr(node, "pos", None), code=code, text=self.text)

    # ---- evaluating ---------------------------------------------------------------------
    def value(self, inst, env):
        """The quantity's value: every entry of the answer at one point."""
        self.env, self.inst = env, inst
        self.numeric = Evaluator(env, inst.dims, inst.functions)
        self.sizes, self.rowwise = {}, None
        self.collect(self.tree)
        try:
            with np.errstate(all="ignore"):
                t = self.ev(self.tree)
        except _Mismatch as e:
            if self.rowwise:               # x_i read as a row does not fit: say what an entry needs
                raise self.two_indices(*self.rowwise) from None
            raise ValueError(f"index {e.index} ranges over two different sizes") from None
        try:
            return self.arrange(t)
        except AnswerError:
            if self.rowwise:
                raise self.two_indices(*self.rowwise) from None
            raise

    def check(self, inst, env):
        """Build-time: the same walk at one point, turning mistakes into messages."""
        try:
            self.value(inst, env)
        except _Mismatch as e:
            raise self.fail(f"the index {e.index} labels axes of different sizes", self.tree) from None
        except TooLarge as e:
            raise self.fail(str(e), self.tree, "too_complex") from None

    def collect(self, node):
        """The size of every index, from the entries it labels."""
        for n in mp.walk(node):
            if isinstance(n, mp.Name):
                e = self.entry(n.id)
                if e:
                    arr = self.array(e[0], n)
                    for x, size in self.labels(arr, e[1], n):
                        if self.sizes.setdefault(x, size) != size:
                            raise self.fail(f"the index {x} labels axes of sizes {self.sizes[x]} and {size} "
                                            f"(in {n.id})", n)
        pairs = []                            # delta_lj and 1(l = j): j ranges like l
        for n in mp.walk(node):
            m = _ENTRY.fullmatch(n.id) if isinstance(n, mp.Name) else None
            if m and m.group(1) in _DELTA and len(m.group(2)) == 2 and self.entry(n.id) is None:
                pairs.append(tuple(m.group(2)))
            if isinstance(n, mp.Call) and n.fn == "eq" and all(isinstance(a, mp.Name) for a in n.args):
                pairs.append((n.args[0].id, n.args[1].id))
        for _ in range(len(pairs)):
            for a, b in pairs:
                if a in self.sizes and b not in self.sizes:
                    self.sizes[b] = self.sizes[a]
                elif b in self.sizes and a not in self.sizes:
                    self.sizes[a] = self.sizes[b]

    def labels(self, arr, idx, node):
        r, c = arr.shape
        if len(idx) == 2:
            return [(idx[0], r), (idx[1], c)]
        if len(idx) == 1 and (r == 1 or c == 1):
            return [(idx[0], max(r, c))] if r * c > 1 else []
        if len(idx) == 1:                     # x_i: the i-th row
            self.rowwise = self.rowwise or (node, arr)
            return [(idx[0], r), (ROW_AXIS, c)]
        raise self.two_indices(node, arr)

    def two_indices(self, node, arr) -> AnswerError:
        return self.fail(f"{node.id}: an entry of a {self.declared(node.id, arr)} matrix needs two indices", node)

    def declared(self, name, arr) -> str:
        """A symbol's shape as the problem declares it (d_H×d), not at this point's trial sizes."""
        sym = self.scope.lookup_or_none(name)
        shape = mx.shape_of(sym if sym is not None else self.scope.lookup_or_none(name.split("_")[0]))
        return mx.show_shape(shape) if shape is not None else f"{arr.shape[0]}×{arr.shape[1]}"

    def array(self, sym, node):
        name = str(sym)
        if name not in self.env:
            raise self.fail(f"no value for {name}", node, "unknown_symbol")
        v = np.asarray(self.env[name], dtype=float)
        return v.reshape(1, 1) if v.ndim == 0 else v

    def size(self, index, node):
        if index not in self.sizes:
            raise self.fail(f"the range of the index {index} is not known: use it on an entry, as in x_{index}",
                            node, "syntax")
        return self.sizes[index]

    def ev(self, node) -> _T:
        return getattr(self, f"_{type(node).__name__}")(node)

    def _Num(self, node):
        return _T(float(Fraction(node.text)))

    def _Name(self, node):
        if node.id in self.scope.dims:
            return _T(self.inst.dims[self.scope.dims[node.id]])
        if node.id == "e" and "e" not in self.scope.symbols:
            return _T(np.e)
        e = self.entry(node.id)
        if e:
            sym, idx = e
            arr = self.array(sym, node)
            if len(idx) == 2:
                return _T(arr, idx)
            if 1 not in arr.shape:
                return _T(arr, (idx[0], ROW_AXIS))
            if arr.size == 1:
                return _T(arr.reshape(()))
            return _T(arr.reshape(-1), idx)
        m = _ENTRY.fullmatch(node.id)
        if m and m.group(1) in _DELTA and len(m.group(2)) == 2:
            a, b = m.group(2)
            n = self.size(a, node)
            if self.size(b, node) != n:
                raise self.fail(f"delta_{a}{b} compares indices of different ranges", node)
            return _T(np.eye(n), (a, b))
        if re.fullmatch(r"[a-z]", node.id) and node.id in self.sizes and self.scope.lookup_or_none(node.id) is None:
            return _T(np.arange(self.sizes[node.id]), (node.id,))
        sym = self.scope.lookup_or_none(node.id)
        if sym is None:
            raise self.fail(f"unknown symbol {node.id}", node, "unknown_symbol")
        arr = self.array(sym, node)
        if self.rowwise and arr.shape[0] == 1 and arr.size > 1:       # γ beside x_i: along x_i's row
            return _T(arr.reshape(-1), (ROW_AXIS,))
        if arr.size != 1:
            raise self.fail(f"{node.id} is a {self.declared(node.id, arr)} matrix: in index notation write its "
                            f"entries, as in {node.id}_{{ij}}", node)
        return _T(arr.reshape(()))

    def _Neg(self, node):
        t = self.ev(node.operand)
        return _T(-t.data, t.axes)

    def _Transpose(self, node):
        t = self.ev(node.operand)             # an entry is a number; a row x_i is not
        if ROW_AXIS in t.axes:
            raise self.fail("a row x_i transposed is not read in index notation: write its entries, as in "
                            "\\sum_j a_{ij} b_{ij} for a product of two rows", node)
        return t

    def _BinOp(self, node):
        a, b = self.ev(node.left), self.ev(node.right)
        axes, x, y = _align(a, b)
        op = {"+": np.add, "-": np.subtract, "*": np.multiply, "hadamard": np.multiply, "/": np.divide,
              "^": np.power}.get(node.op)
        if op is None:
            raise self.fail(f"the operator {node.op} is not understood in index notation", node, "syntax")
        return _T(op(x, y), axes)         # floats: a huge power is inf, never a long computation

    def _Call(self, node):
        fn = sy.FUNCTION_ALIASES.get(node.fn, node.fn)
        if fn in mp.BIGOPS and len(node.args) == 2 and isinstance(node.args[1], mp.Name) and self._bound(node.args[1]):
            k = node.args[1].id
            if node.bounds:
                spans(k, node.bounds, self.size(k, node), {d: self.inst.dims[s] for d, s in self.scope.dims.items()},
                      lambda message: self.fail(message, node))
            body = self.ev(node.args[0])
            if k not in body.axes:
                return _T(body.data * self.size(k, node), body.axes) if fn == "sum" else body
            reduce = {"sum": np.sum, "max": np.max, "min": np.min}[fn]
            return _T(reduce(body.data, axis=body.axes.index(k)), tuple(x for x in body.axes if x != k))
        if fn == "eq":
            axes, x, y = _align(self.ev(node.args[0]), self.ev(node.args[1]))
            return _T((x == y).astype(float), axes)
        if not node.args:
            raise self.fail(f"{node.fn}' at its node is a matrix here: write {node.fn}'(...) of an entry",
                            node, "syntax")
        args = [self.ev(a) for a in node.args]
        if fn in ("max", "min") and len(args) == 1 and isinstance(node.args[0], mp.Name):
            sym = self.scope.lookup_or_none(node.args[0].id)      # max(z) of a whole vector: its largest entry
            if sym is not None:
                arr = self.array(sym, node)
                return _T(np.max(arr) if fn == "max" else np.min(arr))
        if fn in ("max", "min") and len(args) >= 2:
            out = args[0]
            for b in args[1:]:
                axes, x, y = _align(out, b)
                out = _T(np.maximum(x, y) if fn == "max" else np.minimum(x, y), axes)
            return out
        base = mp.LOG_BASE.fullmatch(fn)
        if base and fn not in self.scope.functions and len(args) == 1:
            b = base.group(1)
            b = float(b) if b.isdigit() else np.e if b == "e" else self.ev(mp.Name(b, node.pos)).data
            if np.size(b) != 1:
                raise self.fail(f"the base of {node.fn} is not a number", node)
            return _T(np.log(args[0].data) / np.log(b), args[0].axes)
        if fn not in sy.ACTIVATIONS and fn not in self.scope.functions or len(args) != 1:
            raise self.fail(f"{node.fn} is not understood in index notation", node, "unknown_symbol")
        return _T(self.numeric.scalar_function(fn, node.order, args[0].data), args[0].axes)

    # ---- the quantity's axes ------------------------------------------------------------
    def arrange(self, t: _T):
        """The answer's free indices as the quantity's rows and columns."""
        shape = self.target()
        free = list(t.axes)
        if len(free) > sum(n > 1 for n in shape):
            raise self.fail(f"the answer has {len(free)} free indices ({', '.join(sorted(free))}) but the quantity "
                            f"is {mx.show_shape(self.shape)}; sum over the others", self.tree)
        rows, cols = shape
        want = [a for a, n in (("row", rows), ("col", cols)) if n > 1]
        order = self.order(free, want, shape, t)
        d = _expand(t, tuple(order.get(a, "_" + a) for a in ("row", "col")))
        return np.broadcast_to(d, shape).copy()

    def order(self, free, want, shape, t):
        if ROW_AXIS in free:
            if "col" not in want or t.data.shape[t.axes.index(ROW_AXIS)] != shape[1]:
                raise self.fail("a row is not as long as the quantity's", self.tree)    # (value says more)
            rest = self.order([x for x in free if x != ROW_AXIS], [a for a in want if a != "col"], shape, t)
            return {**rest, "col": ROW_AXIS}
        sizes = {x: t.data.shape[t.axes.index(x)] for x in free}
        named = [x for x in self.free_order if x in free]
        if len(named) == len(free) and len(free) == len(want):
            return dict(zip(want, named))
        n = dict(row=shape[0], col=shape[1])
        out, left = {}, sorted(free)
        for a in want:
            fits = [x for x in left if sizes[x] == n[a]]
            if fits:
                out[a] = fits[0]
                left.remove(fits[0])
        if left:
            raise self.fail(f"the free index {left[0]} labels no axis of the {mx.show_shape(self.shape)} quantity",
                            self.tree)
        return out

    def target(self):
        if self.shape is None:
            return (1, 1)
        return tuple(int(d.subs(self.inst.dims)) if isinstance(d, sp.Basic) else int(d) for d in self.shape)
