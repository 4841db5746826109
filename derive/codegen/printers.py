"""SymPy printers for generated code: the engine's matrix expressions as numpy or torch.

MatMul is `@`, HadamardProduct `*`, HadamardPower `**`, Transpose `.T`; the ones-vectors the
engine writes for sums and broadcasting read back as `.sum(axis=0, keepdims=True)` (1ᵀX), row
sums (X1) and plain numpy broadcasting (1_N bᵀ beside an N×H operand). Named functions (σ, ReLU,
their derivatives, softmax) become calls of small helpers the module defines (`helper_source`).
Every printed piece carries its precedence, so parentheses appear only where Python needs them.
"""
from __future__ import annotations

import sympy as sp
from sympy.core.function import _coeff_isneg
from sympy.printing.str import StrPrinter

from derive.codegen.layout import SOFTMAX, helper_name
from derive.errors import UnsupportedError
from derive.expr import functions as sy
from derive.expr import matrix as mx
from derive.expr.matrix_ops import Op
from derive.notation.text import decimal

ADD, NEG, MUL, POW, ATOM = 40, 45, 50, 60, 100
class Code(str):
    """A printed piece with its precedence and the operator that joins it (`*` or `@`)."""
    prec, op = ATOM, ""


def piece(text: str, prec: int = ATOM, op: str = "") -> Code:
    c = Code(text)
    c.prec, c.op = prec, op
    return c


def _ones(e) -> str:
    """'row' for 1ᵀ (1×n), 'col' for 1 (n×1), '' for anything else."""
    if not isinstance(e, sp.OneMatrix):
        return ""
    r, c = e.shape
    return "row" if r == 1 and c != 1 else "col" if c == 1 and r != 1 else ""


def is_broadcast(e) -> bool:
    """1_N bᵀ or b 1ᵀ: a smaller operand stretched with ones, which numpy broadcasting does alone."""
    if isinstance(e, sp.OneMatrix):
        return True
    if isinstance(e, sp.HadamardPower):
        return is_broadcast(e.args[0])
    if not isinstance(e, sp.MatMul):
        return False
    _, mats = e.as_coeff_matrices()
    return len(mats) > 1 and (_ones(mats[0]) == "col" or _ones(mats[-1]) == "row")


class NumpyPrinter(StrPrinter):
    """numpy code for the engine's expressions; `names` maps a symbol's name to its variable."""

    module = "np"
    printmethod = "_derive_code"

    def __init__(self, names, settings=None):
        super().__init__(settings)
        self.names = names
        self.helpers: set = set()        # (fname, order) the printed code calls
        self.abstract: tuple = ()        # the problem's abstract functions, in order (stand-ins)
        self._compact = False            # the next MatMul may leave its broadcast to numpy

    def doprint(self, expr) -> str:
        return str(self._print(expr))

    def _print(self, expr, **kwargs):
        compact, self._compact = self._compact, False
        if compact and isinstance(expr, sp.OneMatrix):
            return piece("1")
        if isinstance(expr, sp.MatMul):
            return self._matmul(expr, compact)
        if isinstance(expr, Op):                 # matrix_ops, conv_ops: each op writes its own call
            return piece(expr.code(self.module, [self.wrap(self._print(a), ATOM) for a in expr.inputs]))
        for cls in type(expr).__mro__:
            method = getattr(type(self), f"_print_{cls.__name__}", None)
            if method is not None and method.__module__ == __name__:
                return method(self, expr)
        raise UnsupportedError(f"derive code cannot write {type(expr).__name__} ({expr}) as code yet")

    # ---- helpers ------------------------------------------------------------------------------
    def wrap(self, c: Code, level: int, strict: bool = False, op: str = "") -> str:
        """c in parentheses where its precedence (or a different product operator) needs them."""
        needs = c.prec < level or (strict and c.prec == level) or (op and c.prec == MUL and c.op not in ("", op))
        return f"({c})" if needs else str(c)

    def call(self, fn: str, *args) -> Code:
        return piece(f"{self.module}.{fn}({', '.join(map(str, args))})")

    def reduce(self, c: Code, axis: str, mean: bool) -> Code:
        return piece(f"{self.wrap(c, ATOM)}.{'mean' if mean else 'sum'}(axis={axis}, keepdims=True)")

    def constant(self, fn: str, shape) -> Code:
        return self.call(fn, "(" + ", ".join(str(self._print(d)) for d in shape) + ")")

    def identity(self, n) -> Code:
        return self.call("eye", self._print(n))

    def diag(self, v: Code) -> Code:
        return self.call("diagflat", v)

    def heaviside(self, c: Code) -> Code:
        return self.call("where", f"{self.wrap(c, ATOM)} > 0", "1.0", "0.0")

    def direct(self, row) -> str:
        return row.np_call if hasattr(row, "np_call") else row

    def extremum(self, which: str, args) -> Code:
        out = args[0]
        for a in args[1:]:
            out = self.call("maximum" if which == "Max" else "minimum", out, a)
        return out

    def function(self, fname: str, order: int, arg) -> Code:
        if fname in self.abstract:                 # a stand-in the module defines (codemodule.stand_in)
            self.helpers.add((fname, order))
            return piece(f"{helper_name(fname, order)}({self._print(arg)})")
        if fname not in sy.ACTIVATIONS:
            raise UnsupportedError(f"{fname} is an abstract function of the problem (no formula), so it has no "
                                   f"code; give it a definition in the forward equations (e.g. sigma or tanh)")
        inner = self._print(arg)
        row = sy.FUNCTIONS[fname]
        if order == 0 and row.np_call:                 # np.tanh(x): numpy and torch have it
            return self.call(self.direct(row), inner)
        self.helpers.add((fname, order))
        return piece(f"{helper_name(fname, order)}({inner})")

    # ---- leaves -------------------------------------------------------------------------------
    def _print_Symbol(self, e):
        return piece("x" if e == sy.x_ else self.names(e.name))

    def _print_MatrixSymbol(self, e):
        return piece(self.names(e.name))

    def _print_Integer(self, e):
        return piece(str(e.p), NEG if e.p < 0 else ATOM)

    def _print_Rational(self, e):
        if decimal(e):                                 # 0.7978845608, not 997355701/1250000000
            return piece(decimal(e), NEG if e.p < 0 else ATOM)
        return piece(f"{e.p}/{e.q}", NEG if e.p < 0 else MUL, "*")

    def _print_Float(self, e):
        v = float(e)
        return piece(repr(v), NEG if v < 0 else ATOM)

    def _print_NumberSymbol(self, e):
        return piece({sp.pi: "np.pi", sp.E: "np.e"}.get(e) or repr(float(e)))

    def _print_OneMatrix(self, e):
        return self.constant("ones", e.shape)

    def _print_ZeroMatrix(self, e):
        return self.constant("zeros", e.shape)

    def _print_Identity(self, e):
        return piece("1") if mx.is_one(e) else self.identity(e.shape[0])

    # ---- scalar algebra (entrywise on arrays) -------------------------------------------------
    def _print_Add(self, e):
        terms = self._as_ordered_terms(e, order=None)
        return self._sum([(_coeff_isneg(t), -t if _coeff_isneg(t) else t) for t in terms], False)

    def _sum(self, signed, compact):
        if compact:                                       # X W + b: the broadcast terms last
            signed = sorted(signed, key=lambda t: is_broadcast(t[1]))
        if not all(neg for neg, _ in signed):             # h - mu, not -mu + h
            signed = [t for t in signed if not t[0]] + [t for t in signed if t[0]]
        out = []
        for k, (neg, t) in enumerate(signed):
            self._compact = compact
            c = self._print(t)
            if c.prec == NEG and c.startswith("-"):     # the term's own sign, found while printing it
                neg, c = not neg, piece(c[1:], MUL, c.op)
            if neg:
                out.append("- " + self.wrap(c, ADD, strict=True) if k else "-" + self.wrap(c, MUL))
            else:
                out.append(("+ " if k else "") + str(c))
        return piece(" ".join(out), ADD)

    def _print_Mul(self, e):
        coeff, factors = e.as_coeff_mul()
        num, den = [], []
        for f in factors:
            if f.is_Pow and f.exp.is_number and f.exp.is_negative:
                den.append(sp.Pow(f.base, -f.exp) if f.exp != -1 else f.base)
            else:
                num.append(f)
        return self._chain(coeff, [self._print(f) for f in num], [self._print(f) for f in den], "*")

    def _chain(self, coeff, num, den, op):
        """coeff · num₁ op num₂ … / (den₁ · den₂ …) as one left-to-right chain (scalars commute)."""
        c_num, c_den = sp.fraction(coeff)
        neg = _coeff_isneg(c_num)
        c_num = -c_num if neg else c_num
        lead = [self.wrap(self._print(c_num), MUL)] if c_num != 1 else []
        if c_den != 1:
            den = [self._print(c_den)] + den
        body = " * ".join(lead) + (" * " if lead and num else "")
        body += f" {op} ".join(self.wrap(n, MUL, op=op) for n in num) if num else ("" if lead else "1")
        if den:
            d = den[0] if len(den) == 1 else piece(" * ".join(self.wrap(x, MUL, op="*") for x in den), MUL, "*")
            body += " / " + self.wrap(d, MUL, strict=True)
        if neg:
            body = "-" + body
        return piece(body, NEG if neg else (MUL if (lead or den or len(num) > 1) else num[0].prec),
                     op if (lead or den or len(num) > 1) else num[0].op)

    def _print_Pow(self, e):
        return self._power(e.base, e.exp)

    def _power(self, base, p):
        if p == sp.Rational(1, 2) and base.is_integer and self.module == "torch":   # a dimension: an int, not a tensor
            return piece(f"{self._print(base)} ** 0.5", POW)
        if p == sp.Rational(1, 2):
            return self.call(self.direct("sqrt"), self._print(base))
        if p.is_number and p.is_negative:
            inner = self._power(base, -p) if p != -1 else self._print(base)
            return piece(f"1 / {self.wrap(inner, MUL, strict=True)}", MUL, "*")
        b, q = self._print(base), self._print(p)
        return piece(f"{self.wrap(b, POW, strict=True)} ** {self.wrap(q, ATOM)}", POW)

    def _print_Function(self, e):
        name = type(e).__name__
        if type(e) in sy.NATIVE:                        # SymPy's own cosh, erf: its row of the table
            return self.function(sy.NATIVE[type(e)].name, 0, e.args[0])
        if name == "Heaviside":
            return self.heaviside(self._print(e.args[0]))
        raise UnsupportedError(f"derive code cannot write the function {name} as code yet")

    def _print_MinMaxBase(self, e):
        return self.extremum(type(e).__name__, [self._print(a) for a in e.args])

    def _print_Fn(self, e):
        return self.function(e.fname, e.order, e.args[2])

    # ---- matrix algebra -----------------------------------------------------------------------
    def _print_Apply(self, e):
        return self.function(e.fname, e.order, e.arg)

    def _print_Softmax(self, e):
        self.helpers.add(SOFTMAX)
        return piece(f"softmax({self._print(e.arg)})")

    def _print_MatAdd(self, e):
        compact = any(not is_broadcast(a) for a in e.args)
        signed = []
        for a in e.args:
            coeff = a.args[0] if isinstance(a, sp.MatMul) else sp.S.One
            neg = getattr(coeff, "is_number", False) and coeff.is_negative
            signed.append((neg, sp.MatMul(-coeff, *a.args[1:]) if neg else a))
        return self._sum(signed, compact)

    def _print_HadamardProduct(self, e, coeff=sp.S.One):
        """num₁ * num₂ / den, the children's scalar factors taken to the front (c·A ⊙ B = c·(A ⊙ B))."""
        args = []
        for a in e.args:
            if isinstance(a, sp.MatMul) and a.as_coeff_matrices()[0] != 1:
                c, mats = a.as_coeff_matrices()
                coeff, a = coeff * c, sp.MatMul(*mats) if len(mats) > 1 else mats[0]
            args.append(a)
        compact = any(not is_broadcast(a) for a in args)
        if compact:                                   # x ⊙ 1 = x
            args = [a for a in args if not isinstance(a, sp.OneMatrix)]
        num, den = [], []
        for a in args:
            self._compact = compact
            if isinstance(a, sp.HadamardPower) and a.args[1].is_number and a.args[1].is_negative:
                base, p = a.args
                den.append(self._print(base) if p == -1 else self._hpower(base, -p))
            else:
                num.append(self._print(a))
        return self._chain(coeff, num, den, "*")

    def _print_HadamardPower(self, e):
        base, p = e.args
        return self._hpower(base, p)

    def _hpower(self, base, p):
        return self._power(base, p)

    def _print_Transpose(self, e):
        if e.arg.shape == (1, 1):
            return self._print(e.arg)
        return piece(f"{self.wrap(self._print(e.arg), ATOM)}.T")

    def _print_DiagMatrix(self, e):
        return self.diag(self._print(e.args[0]))

    def _matmul(self, e, compact):
        coeff, mats = e.as_coeff_matrices()
        mats = [m for m in mats if m != sp.Identity(1) and not (isinstance(m, sp.OneMatrix) and m.shape == (1, 1))]
        if not mats:
            return self._print(coeff)
        if len(mats) == 1 and isinstance(mats[0], sp.HadamardProduct):
            return self._print_HadamardProduct(mats[0], coeff)
        body, coeff = self._product(list(mats), coeff, compact)
        return self._chain(coeff, [body], [], "@" if body.op == "@" else "*") if coeff != 1 else body

    def _product(self, mats, coeff, compact):
        """The product of mats with its ones-vectors read as sums and broadcasts; returns
        (code, the scalar coefficient left over once a sum has become a mean)."""
        k = next((i for i, m in enumerate(mats) if _ones(m)), None)
        if k is None:
            return self._plain_product(mats), coeff
        left, ones, right = mats[:k], mats[k], mats[k + 1:]
        if not left and not right:                                                      # a lone 1_N (1/N 1_N)
            return self._print(ones), coeff
        if _ones(ones) == "row" and not right or _ones(ones) == "col" and not left:    # a broadcast
            rest, coeff = self._product(left or right, coeff, compact)
            if compact:
                return rest, coeff
            parts = [rest, self._print(ones)] if left else [self._print(ones), rest]
            return piece(" @ ".join(self.wrap(p, MUL, op="@") for p in parts), MUL, "@"), coeff
        if k == 0 and len(mats) > 2 and _ones(mats[-1]) == "col":                      # 1ᵀ X 1: the total
            inner, coeff = self._product(mats[1:-1], coeff, False)
            return self._reduced(inner, "(0, 1)", mats[0].shape[1] * mats[-1].shape[0], coeff)
        if _ones(ones) == "row":                                                        # 1ᵀ X: column sums
            inner, coeff = self._product(right, coeff, False)
            out, coeff = self._reduced(inner, "0", ones.shape[1], coeff)
            if left:
                lhs, coeff = self._product(left, coeff, False)
                out = self._times(lhs, out, sp.MatMul(*left).shape == (1, 1) and sp.MatMul(*right).shape[1] == 1)
            return out, coeff
        inner, coeff = self._product(left, coeff, False)                                 # X 1: row sums
        out, coeff = self._reduced(inner, "1", ones.shape[0], coeff)
        if right:
            rhs, coeff = self._product(right, coeff, False)
            out = self._times(out, rhs, sp.MatMul(*left).shape[0] == 1 and sp.MatMul(*right).shape == (1, 1))
        return out, coeff

    def _times(self, a: Code, b: Code, scalar: bool) -> Code:
        """a @ b, or a * b when both are 1×1 (scalars)."""
        op = "*" if scalar else "@"
        return piece(f"{self.wrap(a, MUL, op=op)} {op} {self.wrap(b, MUL, op=op)}", MUL, op)

    def _plain_product(self, mats) -> Code:
        """A product without ones-vectors: `@`, and `*` between two 1×1 factors (scalars)."""
        if len(mats) == 1:
            return self._print(mats[0])
        ops = ["*" if x.shape == (1, 1) and y.shape == (1, 1) else "@" for x, y in zip(mats, mats[1:])]
        op = "@" if "@" in ops else "*"
        text = self.wrap(self._print(mats[0]), MUL, op=op)
        for o, m in zip(ops, mats[1:]):
            text += f" {o} {self.wrap(self._print(m), MUL, op=op)}"
        return piece(text, MUL, op)

    def _reduced(self, inner, axis, count, coeff):
        """A sum over an axis, or the mean where the coefficient divides by the axis's size."""
        per = coeff * count
        if coeff != 1 and not coeff.is_Integer and per.is_Integer:
            return self.reduce(inner, axis, True), per
        return self.reduce(inner, axis, False), coeff


class TorchPrinter(NumpyPrinter):
    """The same code for torch tensors (float64)."""

    module = "torch"

    def reduce(self, c, axis, mean):
        return piece(f"{self.wrap(c, ATOM)}.{'mean' if mean else 'sum'}(dim={axis}, keepdim=True)")

    def constant(self, fn, shape):
        return self.call(fn, *(self._print(d) for d in shape), "dtype=torch.float64")

    def identity(self, n):
        return self.call("eye", self._print(n), "dtype=torch.float64")

    def diag(self, v):
        return self.call("diag", f"{self.wrap(v, ATOM)}.flatten()")

    def heaviside(self, c):
        return piece(f"({c} > 0).double()")

    def direct(self, row):
        return (row.torch_call or row.np_call) if hasattr(row, "np_call") else row

    def extremum(self, which, args):
        out = args[0]
        for a in args[1:]:
            out = self.call("maximum" if which == "Max" else "minimum", f"torch.as_tensor({out})",
                            f"torch.as_tensor({a})")
        return out
