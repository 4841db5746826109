"""The plain-text notation: what `derive` prints as text reads back in as the same expression
(f1'(x), H2 ⊙ (1 - H2), W3^T, sum(X, 0), (p - y)/N)."""
from __future__ import annotations

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from derive.expr.matrix import is_one


def decimal(r) -> str | None:
    """A rational that a decimal number became (997355701/1250000000 from 0.7978845608) as that
    decimal, or None: halves and thirds stay fractions, long decimal fractions do not."""
    if not isinstance(r, sp.Rational) or r.q < 100:
        return None
    q, k = r.q, 0
    while q % 10 == 0:
        q, k = q // 10, k + 1
    for f in (2, 5):
        while q % f == 0:
            q, k = q // f, k + 1
    if q != 1:
        return None
    n = abs(r.p) * 10 ** k // r.q
    whole, frac = divmod(n, 10 ** k)
    digits = str(frac).rjust(k, "0").rstrip("0")
    return ("-" if r.p < 0 else "") + f"{whole}" + (f".{digits}" if digits else "")


def broadcast_operand(e):
    """X for a broadcast 1_N X, X 1_M^T or 1_N X 1_M^T of a lower-shaped X (printed as X alone), else None."""
    if not isinstance(e, sp.MatMul):
        return None
    coeff, mats = e.as_coeff_matrices()
    if coeff != 1 or len(mats) < 2:
        return None
    mats = strip_broadcast(split_ones(list(mats)))
    if len(mats) == 1 and not isinstance(mats[0], sp.OneMatrix) and mats[0].shape != e.shape:
        return mats[0]
    return None


def _is_sum(e) -> bool:
    """A product that prints as sum(...): ones-vectors reducing one operand, nothing else."""
    if not isinstance(e, sp.MatMul):
        return False
    coeff, mats = e.as_coeff_matrices()
    if coeff != 1:
        return False
    mats = strip_broadcast(split_ones(list(mats)))
    ones = [isinstance(m, sp.OneMatrix) for m in mats]
    if len(mats) == 2:
        return (ones[0] and mats[0].shape[0] == 1) != (ones[1] and mats[1].shape[1] == 1)
    return len(mats) == 3 and ones == [True, False, True] and mats[0].shape[0] == 1 and mats[2].shape[1] == 1


def negative(e) -> bool:
    if isinstance(e, sp.MatMul):
        c = e.as_coeff_matrices()[0]
        return bool(c.as_coeff_Mul()[0].is_negative)      # -1/N too, not only numbers
    return False


def negated(e):
    """-e for a term with a negative coefficient, built without SymPy's rewriting (which may keep the sign)."""
    c, mats = e.as_coeff_matrices()
    return sp.MatMul(-c, *mats) if -c != 1 else (sp.MatMul(*mats) if len(mats) > 1 else mats[0])


def join_terms(expr, show, paren, lead: str) -> str:
    """A matrix sum with its positive terms first (p - y, not -y + p), each negative one after ' - '."""
    out = ""
    for k, t in enumerate(sorted(expr.args, key=negative)):
        neg = negative(t)
        term = negated(t) if neg else t
        body = paren(show(term)) if isinstance(term, sp.MatAdd) else show(term)
        out += ((" - " if k else lead) if neg else (" + " if k else "")) + body
    return out


def scalar_factors(expr) -> tuple[list, list]:
    """A Hadamard product's broadcast 1x1 factors (as the scalars they are) and its other factors."""
    inner = [(a, broadcast_operand(a)) for a in expr.args]
    scalars = [b for a, b in inner if getattr(b, "shape", None) == (1, 1)]
    rest = [a for a, b in inner if getattr(b, "shape", None) != (1, 1)]
    if not rest:                      # all scalars: the last one is the product's body
        rest, scalars = [expr.args[-1]], scalars[:-1]
    return scalars, rest


def divisors(scalars: list) -> tuple[list, list]:
    """Scalar factors split into multipliers and divisors (the bases of x^(-1))."""
    den = [s.args[0] for s in scalars if isinstance(s, sp.HadamardPower) and s.args[1] == -1]
    return [s for s in scalars if not (isinstance(s, sp.HadamardPower) and s.args[1] == -1)], den


def split_ones(mats: list) -> list:
    """1_{NxM} at either end of a product as 1_N 1_M^T, so broadcasts and sums are told apart."""
    if len(mats) > 1 and isinstance(mats[0], sp.OneMatrix) and 1 not in mats[0].shape:
        mats = [sp.OneMatrix(mats[0].shape[0], 1), sp.OneMatrix(1, mats[0].shape[1])] + mats[1:]
    if len(mats) > 1 and isinstance(mats[-1], sp.OneMatrix) and 1 not in mats[-1].shape:
        mats = mats[:-1] + [sp.OneMatrix(mats[-1].shape[0], 1), sp.OneMatrix(1, mats[-1].shape[1])]
    return mats


def strip_broadcast(mats: list) -> list:
    """Drop the ones-vectors that only stretch a row down (1_N r) or a column across (c 1_M^T)."""
    if len(mats) > 1 and isinstance(mats[0], sp.OneMatrix) and mats[0].shape[1] == 1 and mats[1].shape[0] == 1:
        mats = mats[1:]
    if len(mats) > 1 and isinstance(mats[-1], sp.OneMatrix) and mats[-1].shape[0] == 1 and mats[-2].shape[1] == 1:
        mats = mats[:-1]
    return mats


class Decimals:
    """Both printers' numbers: a coefficient the file wrote as a decimal prints as that decimal
    (0.7978845608 x, not 997355701/1250000000 x); `times` joins it to what it multiplies."""
    times = "*"

    def _print_Rational(self, expr):
        return decimal(expr) or super()._print_Rational(expr)

    def _print_Mul(self, expr):
        c, rest = expr.as_coeff_Mul()
        d = decimal(c)
        if d is None or rest == 1:
            return super()._print_Mul(expr)
        return f"{d}{self.times}{self.parenthesize(rest, PRECEDENCE['Mul'])}"


class TextPrinter(Decimals, StrPrinter):
    """Plain text a student could type back: f1'(x), H2 ⊙ (1 - H2), W3^T."""

    def parenthesize(self, item, level, strict=False):
        inner = broadcast_operand(item)
        item = item if inner is None else inner
        if _is_sum(item):
            return self._print(item)                   # sum(X, 0) binds like a function call
        return super().parenthesize(item, level, strict)

    def _print_MatAdd(self, expr):
        return join_terms(expr, self._print, lambda b: f"({b})", "-")


    def _print_Fn(self, expr):
        return f"{expr.fname}{chr(39) * expr.order}({self._print(expr.args[2])})"

    def _print_Apply(self, expr):
        return f"{expr.fname}{chr(39) * expr.order}({self._print(expr.arg)})"

    def _print_Softmax(self, expr):
        return f"softmax({self._print(expr.arg)})"

    def _print_HadamardProduct(self, expr):
        """A broadcast 1x1 factor reads as a scalar: lambda*w, not lambda ⊙ w."""
        scalars, rest = scalar_factors(expr)
        scalars, den = divisors(scalars)
        body = " ⊙ ".join(self.parenthesize(a, 60) for a in rest)
        if den:                                       # e/L, not L^(-1)*e
            body = (f"({body})" if len(rest) > 1 else self.parenthesize(rest[0], 50)) + "".join(
                "/" + self.parenthesize(d, 60, strict=True) for d in den)
            rest = [None]
        if not scalars:
            return body
        body = f"({body})" if len(rest) > 1 or den else self.parenthesize(rest[0], 50)
        return "*".join(self.parenthesize(s, 50) for s in scalars) + "*" + body

    def _print_HadamardPower(self, expr):
        p = expr.args[1]
        power = self._print(p) if p.is_Integer and p >= 0 else f"({self._print(p)})"   # x^(-3/2), not x^-3/2
        return f"{self.parenthesize(expr.args[0], 1000, strict=True)}^{power}"

    def _print_Transpose(self, expr):
        if expr.arg.shape == (1, 1):             # a scalar's transpose is the scalar
            return self.parenthesize(expr.arg, 1000, strict=True)
        return f"{self.parenthesize(expr.arg, 1000, strict=True)}^T"

    def _print_OneMatrix(self, expr):
        return "1"

    def _print_Identity(self, expr):
        return "1" if is_one(expr) else "I"

    def _print_MatMul(self, expr):
        """Ones-vectors read back: 1ᵀX is sum(X, 0), X1 is sum(X, 1) (sum(x) for a vector), a broadcast
        1b is just b; a coefficient 1/N is written as a division."""
        inner = broadcast_operand(expr)
        if inner is not None:
            return self._print(inner)
        coeff, mats = expr.as_coeff_matrices()
        if coeff.is_negative:
            return "-" + self.parenthesize(negated(expr), 50)
        mats = list(mats)
        if len(mats) == 1 and isinstance(mats[0], sp.OneMatrix):
            return self._print(coeff)                  # a scalar broadcast: N 1_{NxH} is N
        body = self._product(mats)
        if coeff == 1:
            return body
        if decimal(coeff):
            return f"{decimal(coeff)}*{self.parenthesize(sp.MatMul(*mats) if len(mats) > 1 else mats[0], 50)}"
        num, den = coeff.as_numer_denom()
        rest = sp.MatMul(*mats) if len(mats) > 1 else mats[0]
        if num == 1 and den != 1:
            body = f"({body})" if isinstance(rest, (sp.MatAdd, sp.HadamardProduct)) and body[0] != "(" or \
                body.startswith("-") else body
            return f"{body}/{self.parenthesize(den, 60, strict=True)}"
        if num.is_Integer and den != 1:
            body = f"({body})" if isinstance(rest, sp.MatAdd) and not body.startswith("sum(") else body
            return f"{num}*{body}/{self.parenthesize(den, 60, strict=True)}"
        if isinstance(rest, sp.MatAdd) or isinstance(rest, sp.HadamardProduct) and " ⊙ " in body \
                and not body.startswith("sum("):
            body = f"({body})"
        return f"{self.parenthesize(coeff, 50)}*{body}"

    def _product(self, mats) -> str:
        mats = strip_broadcast(split_ones(list(mats)))   # the broadcast of a sum: 1_N (1_N^T X) is sum(X, 0)
        axes = []
        if len(mats) > 1 and isinstance(mats[0], sp.OneMatrix) and mats[0].shape[0] == 1:
            if mats[0].shape[1] != 1:
                axes.append("0")
            mats = mats[1:]
        if len(mats) > 1 and isinstance(mats[-1], sp.OneMatrix) and mats[-1].shape[1] == 1:
            if mats[-1].shape[0] != 1:
                axes.append("1")
            mats = mats[:-1]
        for i in range(1, len(mats) - 1):        # a row times a column of ones inside a product: a scalar
            if isinstance(mats[i], sp.OneMatrix) and mats[i].shape[1] == 1 and mats[0].shape[0] == 1 \
                    and not axes:
                head = mats[:i]
                rest = mats[i + 1:]
                total = f"sum({self._print(head[0] if len(head) == 1 else sp.MatMul(*head))})"
                tail = rest[0] if len(rest) == 1 else sp.MatMul(*rest)
                return f"{total}*{self.parenthesize(tail, 50)}"
        for i in range(1, len(mats) - 1):        # a column times a row of ones inside a product: times a sum
            if isinstance(mats[i], sp.OneMatrix) and mats[i].shape[0] == 1 and mats[-1].shape[1] == 1 \
                    and not axes:
                head, rest = mats[:i], mats[i + 1:]
                total = f"sum({self._print(rest[0] if len(rest) == 1 else sp.MatMul(*rest))})"
                lead = head[0] if len(head) == 1 else sp.MatMul(*head)
                return f"{self.parenthesize(lead, 50)}*{total}"
        operand = sp.MatMul(*mats) if len(mats) > 1 else mats[0]
        if not axes:
            return super()._print_MatMul(operand) if len(mats) > 1 else self._print(operand)
        if len(axes) == 2 or 1 in operand.shape:     # every entry: sum(x) of a vector, sum(X) of all of X
            return f"sum({self._print(operand)})"
        return f"sum({self._print(operand)}, {axes[0]})"

    def _print_Sum(self, expr):
        """sum_j exp(z_j): the index's range is the vector's, as a class writes it."""
        body, (j, _, _) = expr.args[0], expr.args[1]
        return f"(sum_{j} {self.parenthesize(body, 50)})"

    def _print_KroneckerDelta(self, expr):
        return f"delta_{self._print(expr.args[0])}{self._print(expr.args[1])}"

    def _print_DiagMatrix(self, expr):
        return f"diag({self._print(expr.args[0])})"

    def _print_Symbol(self, expr):
        return "x" if expr.name == "_x" else expr.name

    def _print_MatrixSymbol(self, expr):
        return expr.name.rstrip("@")

    def _print_MatrixElement(self, expr):
        parent, i, j = expr.args
        idx = [str(k) for k, n in ((i, parent.shape[0]), (j, parent.shape[1])) if n != 1]
        return f"{parent}_{''.join(idx)}"


class _MemoText(TextPrinter):
    """The plain-text printer, remembering every subexpression it printed: the mutants of one
    reference share all but one site, and SymPy's printer is slow on matrix expressions."""

    def __init__(self):
        super().__init__()
        self.memo = {}

    def _print(self, expr, **kwargs):
        if kwargs or not isinstance(expr, sp.Basic):
            return super()._print(expr, **kwargs)
        if expr not in self.memo:
            self.memo[expr] = super()._print(expr)
        return self.memo[expr]


_MEMO = _MemoText()


def memo_text(expr) -> str:
    """text(), remembering subexpressions across calls (mutants.py prints many near-copies)."""
    if len(_MEMO.memo) > 20000:
        _MEMO.memo.clear()
    return _MEMO.doprint(expr)


def text(expr) -> str:
    return TextPrinter().doprint(expr)
