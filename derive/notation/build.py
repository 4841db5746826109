"""Syntax tree -> SymPy, against a problem's scope: names, shapes, functions, broadcasting.

Scalars in a problem that has matrices are 1x1 MatrixSymbols, so every value is a matrix
and one set of vector-Jacobian rules serves (see backprop.py). Broadcasting is written out
with ones-vectors (`1_N b^T`), which keeps it visible to the rules and to the printer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.errors import AnswerError
from derive.expr.functions import ACTIVATIONS, FUNCTION_ALIASES, MATRIX_FUNCTIONS, Softmax, apply
from derive.expr.matrix import OnesVector, broadcast, hadamard, ones, shape_of, show_shape, total
from derive.expr.matrix_ops import Inverse
from derive.notation import build_ops
from derive.notation import parser as mp
from derive.notation import tokens
from derive.runtime.memo import IdMemo

CONSTANTS = {"e": sp.E, "pi": sp.pi}   # unless the problem names a symbol so
_SYNONYMS = {"eps": "epsilon", "epsilon": "eps"}       # \varepsilon, ε and epsilon: the problem's either
MAX_EXPONENT = 64          # |p| in a^p where both are numbers, or p is a number


@dataclass(frozen=True)
class Scope:
    """What names mean in one problem: symbols, functions, derivative-name aliases."""

    symbols: dict                       # name -> Symbol | MatrixSymbol
    functions: frozenset = frozenset()  # abstract function names (f1, f2)
    aliases: dict = field(default_factory=dict)      # written form -> canonical name
    node_inputs: dict = field(default_factory=dict)  # function name -> its argument (bare f3')
    dims: dict = field(default_factory=dict)         # dimension name -> Symbol
    matrix_mode: bool = False
    single_nodes: frozenset = frozenset()  # functions applied at one node only: a bare f1 is that node

    def lookup_or_none(self, name: str):
        canon = self.aliases.get(name, name)
        return next((self.symbols[c] for c in (canon, canon.replace("_", ""), canon.replace("^", ""),
                                               _SYNONYMS.get(canon)) if c in self.symbols), None)

    def dim_or_none(self, name: str):
        """A dimension by its name, or typed without its underscores (dk for d_k) where no symbol is."""
        if name in self.dims:
            return self.dims[name]
        bare = {d.replace("_", ""): s for d, s in self.dims.items()}
        return bare.get(name.replace("_", "")) if self.lookup_or_none(name) is None else None

    def lookup(self, name: str, pos: int = 0, text: str = ""):
        hit = self.lookup_or_none(name)
        if hit is not None:
            return hit
        if name in self.callable_names():
            raise AnswerError(f"{name} is a function: apply it to an argument, as in {name}(z)", pos,
                              code="syntax", text=text)
        known = ", ".join(sorted(self.symbols, key=_natural))
        raise AnswerError(f"unknown symbol {name}; known here: {known}", pos, code="unknown_symbol",
                          text=text)

    def callable_names(self) -> frozenset:
        return _CALLABLE(self.functions)


# the names an answer may call: the scope's own functions and every table's (per set of own functions)
_CALLABLE = IdMemo(lambda own: frozenset(own) | frozenset(ACTIVATIONS) | frozenset(FUNCTION_ALIASES)
                   | MATRIX_FUNCTIONS | build_ops.NAMES, limit=1024)


def _natural(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


class Builder:
    """Walks a syntax tree and builds SymPy, checking names and shapes on the way."""

    lazy = False        # True: matrix sums and products are built without SymPy's canonical rewriting
    broadcasting = False    # True: a product that does not conform but broadcasts is entrywise (star)

    def __init__(self, scope: Scope, text: str = ""):
        self.scope, self.text = scope, text
        self.notes: list[str] = []          # how an unusual form was read, for the feedback

    def fail(self, message: str, node, code: str = "shape") -> AnswerError:
        return AnswerError(message, getattr(node, "pos", None), code=code, text=self.text)

    def build(self, node):
        method = getattr(self, f"_build_{type(node).__name__}")
        return method(node)

    def _build_Num(self, node: mp.Num):
        if node.text.isascii() and node.text.isdigit() and len(node.text) < 16:    # (without Fraction's parse)
            return sp.Integer(int(node.text))
        return sp.Rational(Fraction(node.text))

    def _build_Name(self, node: mp.Name):
        if node.id in CONSTANTS and node.id not in self.scope.symbols:
            return CONSTANTS[node.id]
        if (dim := self.scope.dim_or_none(node.id)) is not None:
            return dim
        if node.id.startswith(tokens.ONES):
            return self.ones_vector(node)
        name = FUNCTION_ALIASES.get(node.id, node.id)
        if name in self.scope.node_inputs and name in self.scope.single_nodes \
                and self.scope.lookup_or_none(node.id) is None:
            self.note(f"read {node.id} as {node.id} at its node, {node.id}({self.scope.node_inputs[name]})")
            return apply(name, 0, self.scope.node_inputs[name])
        try:
            return self.scope.lookup(node.id, node.pos, self.text)
        except AnswerError as e:
            letters = self.split(node.id)
            if e.code != "unknown_symbol" or letters is None:
                raise
        self.note(f"read {node.id} as the product {' '.join(letters)}")
        out = self.build(mp.Name(letters[0], node.pos))
        for k, letter in enumerate(letters[1:], 1):
            out = self.product(out, self.build(mp.Name(letter, node.pos + k)), node)
        return out

    def split(self, name: str) -> list[str] | None:
        """Xw, qN, w3h1, Xβ, λβ: names written together (2 to 4), each a symbol or dimension of the
        problem: letters with their digits, else the fewest known names (Xbeta is X beta)."""
        parts = re.findall(r"[A-Za-z]\d*", name)
        if not (name.isascii() and name.replace("_", "").isalnum() and 2 <= len(name) <= 40):
            return None
        known = lambda c: c in self.scope.dims or self.scope.lookup_or_none(c) is not None   # noqa: E731
        if "".join(parts) == name and 2 <= len(parts) <= 4 and all(map(known, parts)):
            return parts
        best: dict = {0: []}                  # position -> the fewest known names that write name[:position]
        for i in range(len(name)):
            for j in range(i + 1, len(name) + 1) if i in best and len(best[i]) < 4 else ():
                if known(name[i:j]) and (j not in best or len(best[j]) > len(best[i]) + 1):
                    best[j] = best[i] + [name[i:j]]
        return best[len(name)] if len(best.get(len(name), ())) >= 2 else None

    def ones_vector(self, node: mp.Name):
        """\\mathbf{1}_N: a column of N ones; without a size, a ones-vector the product sizes."""
        size = node.id[len(tokens.ONES):].lstrip("_")
        if not size:
            return OnesVector()
        if size.isdigit():
            if len(size) > 4:
                raise self.fail(f"the ones-vector's size {size[:12]} is larger than a check can use; write its "
                                f"dimension's name", node, "too_complex")
            return ones(int(size), 1)
        if size not in self.scope.dims:
            raise self.fail(f"the ones-vector's size {size} is not a dimension of this problem; "
                            f"known: {', '.join(sorted(self.scope.dims))}", node, "unknown_symbol")
        return ones(self.scope.dims[size], 1)

    def _build_Neg(self, node: mp.Neg):
        v = self.build(node.operand)
        if isinstance(v, OnesVector):
            return OnesVector(v.row, -v.sign)
        return sp.MatMul(sp.S.NegativeOne, v) if self.lazy and isinstance(v, MatrixExpr) else -v

    def _build_Transpose(self, node: mp.Transpose):
        o = node.operand                # QK^T, xx^T: letters run together, the last one transposed ((QK)^T: not)
        if isinstance(o, mp.Name) and node.pos == o.pos + len(o.id) and self.scope.lookup_or_none(o.id) is None \
                and (two := self.split(o.id)):
            self.note(f"read {o.id}^T as {' '.join(two[:-1])} {two[-1]}^T")
            last = mp.Transpose(mp.Name(two[-1], o.pos + len(o.id) - len(two[-1])), node.pos)
            return self.product(self.build(mp.Name(o.id[:-len(two[-1])], o.pos)), self.build(last), node)
        v = self.build(node.operand)
        if isinstance(v, OnesVector):
            return v.transposed()
        if isinstance(v, MatrixExpr):
            return sp.Transpose(v) if self.lazy else v.T
        return v

    def scalar(self, v):
        """An unsized ones-vector outside a product is the number 1."""
        return sp.Integer(v.sign) if isinstance(v, OnesVector) else v

    def ones_product(self, a, b, node):
        """1ᵀX (a row of ones times X) and X1 (X times a column of ones)."""
        if isinstance(a, OnesVector) and isinstance(b, OnesVector):
            raise self.fail("a product of two ones-vectors: write their sizes, as in \\mathbf{1}_N", node)
        if isinstance(a, OnesVector):
            if not isinstance(b, MatrixExpr):
                return a.sign * b
            if a.row:
                return a.sign * ones(1, b.shape[0]) * b
            if b.shape[0] == 1:
                raise self.fail("a column of ones times a row: write its size, as in \\mathbf{1}_N b^T", node)
            return a.sign * b               # the indicator \mathbb{1}[z > 0] (or 1_{z>0}) read as a factor
        if not isinstance(a, MatrixExpr):
            return b.sign * a
        if not b.row:
            return b.sign * a * ones(a.shape[1], 1)
        if a.shape[1] == 1:
            raise self.fail("a column times a row of ones: write its size, as in b \\mathbf{1}_N^T", node)
        raise self.fail(f"a row of ones after a {show_shape(a.shape)} matrix: write X 1 for its row sums", node)

    def _build_Call(self, node: mp.Call):
        name = FUNCTION_ALIASES.get(node.fn, node.fn)
        if "_" in name and name not in self.scope.functions and name.replace("_", "") in self.scope.functions:
            name = name.replace("_", "")                  # f_3'(x) is f3'(x)
        if not node.args:
            if name not in self.scope.node_inputs:
                raise self.fail(f"{node.fn}' needs an argument here, as in {node.fn}'(...)", node, "syntax")
            return apply(name, node.order, self.scope.node_inputs[name])
        keyword = [build_ops.is_keyword(a) for a in node.args]         # axis=1, read as (axis = 1)
        args = [self.scalar(self.build(a)) for a, k in zip(node.args, keyword) if not k]
        kwargs = {a.args[0].id: self.scalar(self.build(a.args[1])) for a, k in zip(node.args, keyword) if k}
        if len(kwargs) < sum(keyword):
            raise self.fail(f"{node.fn}: a keyword is given twice", node, "syntax")
        if kwargs and name in ("sum", "mean") and not args[1:]:
            build_ops.check_keywords(self, name, kwargs, node)
            args, kwargs = args + [kwargs["axis"]], {}
        if build_ops.owns(name, args, kwargs) and name not in self.scope.functions:
            return build_ops.call(self, name, args, kwargs, node)
        if kwargs:
            raise self.fail(f"{node.fn} takes no keyword {next(iter(kwargs))}=", node, "syntax")
        if not args:
            raise self.fail(f"{node.fn} needs an argument", node, "syntax")
        if name in MATRIX_FUNCTIONS:
            return self.matrix_function(name, args, node)
        base = mp.LOG_BASE.fullmatch(name)
        if base and name not in self.scope.functions:
            if len(args) != 1:
                raise self.fail(f"{node.fn} takes one argument, not {len(args)}", node, "syntax")
            b = base.group(1)
            b = sp.Integer(b) if b.isdigit() else sp.E if b == "e" else self.build(mp.Name(b, node.pos))
            if isinstance(b, MatrixExpr) or b in (0, 1):
                raise self.fail(f"the base of {node.fn} must be a positive number other than 1", node, "syntax")
            return apply("log", 0, args[0]) * (1 / sp.log(b))
        if name not in ACTIVATIONS and name not in self.scope.functions:
            known = ", ".join(sorted(self.scope.callable_names() - {"max"}))
            raise self.fail(f"unknown function {node.fn}; known: {known}", node, "unknown_symbol")
        if len(args) != 1:
            raise self.fail(f"{node.fn} takes one argument, not {len(args)}", node, "syntax")
        return apply(name, node.order, args[0])

    def matrix_function(self, name, args, node):
        a = args[0]
        if name == "transpose":
            return a.T if isinstance(a, MatrixExpr) else a
        if name == "hadamard":
            if len(args) != 2:
                raise self.fail("hadamard takes two arguments", node, "syntax")
            return self.elementwise("hadamard", args[0], args[1], node)
        if name in ("max", "min"):
            return self.extremum(name, args, node)
        if name == "heaviside":                          # np.heaviside(z, 0): the step, ReLU'(z)
            return apply("relu", 1, a)
        if name in ("outer", "matmul"):
            if len(args) != 2:
                raise self.fail(f"{node.fn} takes two arguments", node, "syntax")
            if name == "matmul":
                return self.product(args[0], args[1], node)
            u, v = (x if not isinstance(x, MatrixExpr) or x.shape[1] == 1 else x.T for x in args)
            if any(isinstance(x, MatrixExpr) and 1 not in x.shape for x in args):
                raise self.fail("outer takes two vectors", node)
            return self.product(u, v.T if isinstance(v, MatrixExpr) else v, node)
        if name == "diag":
            if not isinstance(a, MatrixExpr) or 1 not in a.shape:
                raise self.fail(f"diag takes a vector, not {show_shape(shape_of(a))}", node)
            return sp.DiagMatrix(a if a.shape[1] == 1 else a.T)
        if name == "softmax":
            if not isinstance(a, MatrixExpr) or 1 not in a.shape:
                raise self.fail(f"softmax takes a vector, not {show_shape(shape_of(a))}; write softmax(·, 1) for "
                                "each row (softmax(·, 0) for each column)", node)
            return Softmax(a)
        # sum / mean, over everything or along an axis (0: down the rows, 1: along the columns)
        if not isinstance(a, MatrixExpr):
            return a
        axis = build_ops.axis_of(self, name, args[1:], {}, node, a.shape)
        r, c = a.shape
        if axis == 0:
            out, count = ones(1, r) * a, r
        elif axis == 1:
            out, count = a * ones(c, 1), c
        else:
            out, count = total(a), r * c
        return out / count if name == "mean" else out

    def extremum(self, name, args, node):
        """max/min of several values, entrywise: max(0, x) is relu(x); max(a, b) = b + relu(a - b)."""
        if len(args) < 2 and isinstance(args[0], MatrixExpr):      # max(x): a reduction, its largest entry
            return build_ops.call(self, name, args, {}, node)
        if len(args) < 2:
            raise self.fail(f"{name} of one value: write {name} of several values, or {name} over an "
                            f"index as in \\{name}_k z_k", node, "syntax")
        if name == "max" and len(args) == 2 and 0 in args:
            return apply("relu", 0, args[1] if args[0] == 0 else args[0])
        if not any(isinstance(a, MatrixExpr) for a in args):
            return (sp.Max if name == "max" else sp.Min)(*args)
        out = args[0]
        for b in args[1:]:
            d = self.elementwise("-", out, b, node)
            out = self.elementwise("+", b, apply("relu", 0, d), node) if name == "max" else \
                self.elementwise("-", out, apply("relu", 0, d), node)
        return out

    def _build_BinOp(self, node: mp.BinOp):
        a, b = self.build(node.left), self.build(node.right)
        op = node.op
        if op == "*" and (isinstance(a, OnesVector) or isinstance(b, OnesVector)):
            return self.ones_product(a, b, node)
        a, b = self.scalar(a), self.scalar(b)
        if op == "^":
            return self.power(a, b, node)
        if op == "^∘":                                    # A^{∘-1}: entrywise, whatever the shape
            return self.power(a, b, node, entrywise=True)
        if op == "*":
            return self.star(a, b, node) if node.written == "*" or node.implicit else self.product(a, b, node)
        if op == "hadamard" and node.written == "np*":
            return self.numpy_star(a, b, node)
        if op == "/":
            if isinstance(b, MatrixExpr):
                return self.elementwise("hadamard", a, sp.HadamardPower(b, -1), node)
            if b == 0:
                raise self.fail("division by zero", node, "syntax")
            return a / b if not isinstance(a, MatrixExpr) else a * (1 / b)
        if op == "hadamard":
            return self.elementwise("hadamard", a, b, node)
        return self.elementwise(op, a, b, node)

    def power(self, a, b, node, entrywise: bool = False):
        if a == sp.E and isinstance(b, MatrixExpr):     # e^{Z}: exp(Z), entrywise as exp is
            return apply("exp", 0, b)
        if isinstance(b, MatrixExpr):
            raise self.fail("an exponent must be a scalar; e^{Z} is exp(Z) entrywise, and a power of each "
                            "entry is written with the base as the matrix (Z^2)", node)
        if b.is_Number and abs(b) > MAX_EXPONENT:
            raise self.fail(f"the exponent {b if len(str(b)) < 20 else '(huge)'} is larger than "
                            f"{MAX_EXPONENT} allowed", node, "too_complex")
        if a.is_Number and b.is_Number and abs(a) > 10**6:
            raise self.fail("the power is too large to evaluate", node, "too_complex")
        if isinstance(a, MatrixExpr):
            if a == sp.E:
                return apply("exp", 0, b)
            if b == -1 and not entrywise and a.shape[0] == a.shape[1] and a.shape != (1, 1):
                self.note("read ^(-1) of a square matrix as its inverse (the entrywise reciprocal is 1/A or A^{∘-1})")
                return Inverse(a)
            return sp.HadamardPower(a, b)
        if a == sp.E:
            return sp.exp(b)
        return a ** b

    def star(self, a, b, node):
        """a * b, or two vectors side by side in an answer: the matrix product, or the entrywise one
        where only that conforms (said): σ(z)(1 - σ(z)) of a vector z; when `broadcasting`, also a
        row (column) against a matrix, as numpy's * (γ x̂ in batch norm). Two matrices of one shape
        side by side stay a matrix product (where ⊙ belongs, a classic mistake: grading/mutants)."""
        sa, sb = shape_of(a), shape_of(b)
        if sa and sb and sa[1] != sb[0] and (sa == sb and (not node.implicit or (self.lazy and 1 in sa)) or (
                self.broadcasting and sa != sb and (1, 1) not in (sa, sb) and _common(sa, sb) in (sa, sb))):
            written = "two values side by side" if node.implicit else "*"
            self.note(f"read {written} as the entrywise product ⊙{' broadcast as numpy’s *' if sa != sb else ''}: "
                      f"a matrix product of a {show_shape(sa)} and a {show_shape(sb)} value does not conform")
            return self.elementwise("hadamard", a, b, node)
        return self.product(a, b, node)

    def numpy_star(self, a, b, node):
        """numpy's a * b: entrywise (broadcast), or the matrix product where only that conforms (said)."""
        sa, sb = shape_of(a), shape_of(b)
        if sa and sb and _common(sa, sb) is False and sa[1] == sb[0]:
            self.note(f"read numpy's * as a matrix product: a {show_shape(sa)} and a {show_shape(sb)} "
                      "value do not broadcast")
            return self.product(a, b, node)
        return self.elementwise("hadamard", a, b, node)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def product(self, a, b, node):
        sa, sb = shape_of(a), shape_of(b)
        if self.lazy and (sa is not None or sb is not None) and (sa is None or sb is None or sa[1] == sb[0]):
            if a is sp.S.One or b is sp.S.One:       # 1 A, 17/17 A: A itself (as SymPy's own product keeps it)
                return b if a is sp.S.One else a
            return sp.MatMul(a, b)
        if sa is None or sb is None:
            return a * b
        if sa[1] == sb[0]:
            return a * b
        if sa == (1, 1) or sb == (1, 1):          # a 1x1 factor acts as a scalar
            return self.elementwise("hadamard", a, b, node)
        hint = ""
        if _common(sa, sb) in (sa, sb):          # a row (column) against a matrix: numpy would broadcast
            hint = " — for the entrywise product with each row (or column) write ⊙ (.* or numpy's *)"
        elif sa[0] == sb[0]:
            hint = " — transpose the left factor?"
        elif sa[1] == sb[1]:
            hint = " — transpose the right factor?"
        raise self.fail(f"cannot multiply a {show_shape(sa)} matrix by a {show_shape(sb)} matrix{hint}",
                        node)

    def elementwise(self, op, a, b, node):
        sa, sb = shape_of(a), shape_of(b)
        shape = _common(sa, sb)
        if shape is False:
            word = {"+": "add", "-": "subtract", "hadamard": "multiply entrywise"}[op]
            raise self.fail(f"cannot {word} a {show_shape(sa)} and a {show_shape(sb)} value", node)
        a2 = a if sa is None and op == "hadamard" else broadcast(a, shape)
        b2 = b if sb is None and op == "hadamard" else broadcast(b, shape)
        if self.lazy and (isinstance(a2, MatrixExpr) or isinstance(b2, MatrixExpr)):
            if op == "+":                      # an answer's matrices: no canonical rewriting (slow, and
                return sp.MatAdd(a2, b2)       # the decision is numeric)
            if op == "-":
                return sp.MatAdd(a2, sp.MatMul(sp.S.NegativeOne, b2))
        if op == "+":
            return a2 + b2
        if op == "-":
            return a2 - b2
        if self.lazy and isinstance(a2, MatrixExpr) and isinstance(b2, MatrixExpr):
            return sp.HadamardProduct(a2, b2)
        if self.lazy and (isinstance(a2, MatrixExpr) or isinstance(b2, MatrixExpr)):
            return sp.MatMul(a2, b2) if isinstance(b2, MatrixExpr) else sp.MatMul(b2, a2)
        return hadamard(a2, b2)


def _common(sa, sb):
    """The broadcast shape of two shapes, or False."""
    if sa is None or sb is None:
        return sa or sb
    if sa == sb:
        return sa
    out = []
    for x, y in zip(sa, sb):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return False
    return tuple(out)


def build(node, scope: Scope, text: str = ""):
    """SymPy for a syntax tree; raises AnswerError on unknown names and non-conforming shapes."""
    b = Builder(scope, text)
    return b.scalar(b.build(node))


def read(text: str, scope: Scope, fmt: str = "auto", max_length: int = tokens.MAX_LENGTH):
    """Parse and build in one call: text -> SymPy."""
    tree = mp.parse(text, fmt, names=scope.aliases, functions=scope.callable_names(),
                    max_length=max_length)
    return build(tree, scope, text)
