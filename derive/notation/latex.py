"""Notation (how names and expressions are written): a LatexPrinter subclass (TA notation) and a plain-text printer that reads back in."""
from __future__ import annotations

import functools
import re

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from derive.expr import functions as fns
from derive.expr.matrix import dimension, is_one
from derive.expr.matrix_ops import Inverse
from derive.notation import display
from derive.notation.text import (
    Decimals,
    broadcast_operand,
    decimal,
    divisors,
    join_terms,
    scalar_factors,
    split_ones,
    strip_broadcast,
    text,
)

GREEK = {"delta", "sigma", "rho", "beta", "gamma", "mu", "eta", "theta", "alpha", "epsilon", "lambda"}
SPECIAL = {"eps": r"\epsilon", "var": r"\sigma^{2}", "hhat": r"\hat{h}", "yhat": r"\hat{y}", "_x": "x"}


def function_latex(fname: str) -> str:
    """A named function as it typesets: its row of the function table, or an abstract f1 as f_{1}."""
    row = fns.row(fname)
    return row.tex if row is not None else name_latex(fname)


def name_latex(name: str) -> str:
    """w1 -> w_{1}, delta3 -> \\delta_{3}, dL/dh3 -> \\frac{\\partial L}{\\partial h_{3}}, d_H -> d_{H}."""
    name = name.rstrip("@")   # backprop.INTERNAL: the engine's own-shape copy of a gradient name
    own = display.shown(name) or SPECIAL.get(name)
    if own is not None:               # W^{1} stays one group: its transpose is {W^{1}}^{\top}
        return f"{{{own}}}" if "^" in own else own
    m = re.fullmatch(r"d([A-Za-z]\w*)/d([A-Za-z]\w*)", name)
    if m:
        return rf"\frac{{\partial {name_latex(m[1])}}}{{\partial {name_latex(m[2])}}}"
    if "_" in name:                 # d_H -> d_{H}, n_in -> n_{\mathrm{in}}, shape_A -> \mathrm{shape}_{A}
        base, _, sub = name.partition("_")
        if not (re.fullmatch(r"[A-Za-z]+", base) and re.fullmatch(r"[A-Za-z0-9]+", sub)):
            return r"\mathrm{" + _TEX_UNSAFE.sub(lambda c: _TEX_ESCAPES[c[0]], name).replace("_", r"\_") + "}"
        word = len(base) > 1 and base not in GREEK and base not in SPECIAL
        base = rf"\mathrm{{{base}}}" if word else name_latex(base)
        sub = sub if len(sub) == 1 or sub.isdigit() else rf"\mathrm{{{sub}}}"
        return f"{base}_{{{sub}}}"
    m = re.fullmatch(r"([A-Za-z]+?)(\d+)?", name)
    if not m:
        return _TEX_UNSAFE.sub(lambda c: _TEX_ESCAPES[c[0]], name)
    base, sub = m[1], m[2]
    if base in GREEK or base in SPECIAL:
        base = f"\\{base}" if base in GREEK else SPECIAL[base]
    elif re.fullmatch(r"[A-Za-z]hat", base):          # xhat -> \hat{x}
        base = rf"\hat{{{base[0]}}}"
    elif len(base) > 1:                                # a word is upright: var, hprev, params
        base = rf"\mathrm{{{base}}}"
    return f"{base}_{{{sub}}}" if sub else base


_TEX_ESCAPES = {"\\": r"\backslash{}", "~": r"\sim{}"} | {c: "\\" + c for c in "{}$&#%"}  # math mode
_TEX_UNSAFE = re.compile(r"[\\{}$&#%~]")     # a name from a problem file is text, never a TeX command


def transposed(tex: str) -> str:
    """tex^{\top}; a name shown with a superscript takes it there: {W^{1}} -> W^{1\top}."""
    scripted = re.fullmatch(r"\{([^{}^]+)\^\{([^{}]+)\}\}", tex)
    return rf"{scripted[1]}^{{{scripted[2]}\top}}" if scripted else rf"{tex}^{{\top}}"


def _cheap_precedence(item):
    """SymPy's precedence of a matrix product asks could_extract_minus_sign, which rewrites the
    product canonically (slow on an answer's long matrix expressions); a product's place is known."""
    if isinstance(item, sp.HadamardProduct):
        return PRECEDENCE["Mul"]
    if isinstance(item, sp.MatMul):
        coeff = item.args[0]
        return PRECEDENCE["Add"] if getattr(coeff, "is_number", False) and coeff.is_negative else PRECEDENCE["Mul"]
    if isinstance(item, sp.MatAdd):
        return PRECEDENCE["Add"]
    return None


def _plain_transpose(e) -> bool:
    """W^T of a named matrix needs no parentheses as a factor (but does under a power: no double superscript)."""
    return isinstance(e, sp.Transpose) and isinstance(e.arg, sp.MatrixSymbol)


def _scaled(e) -> bool:
    """A Hadamard product with a broadcast 1x1 factor prints as a product (lambda w): no parentheses in a product."""
    return isinstance(e, sp.HadamardProduct) and bool(scalar_factors(e)[0])


def _untransposed(term):
    """a for a^T, -a for -a^T, the column 1_K for the row 1_K^T; None for any other term."""
    if isinstance(term, sp.Transpose) and term.arg.shape != (1, 1):
        return term.arg
    if isinstance(term, sp.OneMatrix) and term.shape[0] == 1 and term.shape[1] != 1:
        return sp.OneMatrix(term.shape[1], 1)
    if isinstance(term, sp.MatMul):
        coeff, mats = term.as_coeff_matrices()
        if len(mats) == 1 and isinstance(mats[0], sp.Transpose) and mats[0].arg.shape != (1, 1):
            return coeff * mats[0].arg
    return None


def _sum_of_transposes(e) -> bool:
    return isinstance(e, sp.MatAdd) and all(_untransposed(t) is not None for t in e.args) \
        and any(not isinstance(t, sp.OneMatrix) for t in e.args)


class Printed(sp.Symbol):
    """Already printed LaTeX standing in a product's factors (a sum written with \\sum)."""

    def __new__(cls, tex):
        obj = super().__new__(cls, "printed_" + str(abs(hash(tex))))
        obj.tex = tex
        return obj


class Printer(Decimals, LatexPrinter):
    """TA notation: ⊙, ^⊤, σ'(Z_2), named gradients as fractions, 1 for ones-vectors."""
    times = " "

    def _print_MatMul(self, expr):
        """SymPy's own, without the canonical rewriting its sign test does (see _cheap_precedence);
        broadcasting is implicit, as in the text form: 1_N b^T is b^T, 1_N 1_N^T X is 1_N^T X."""
        inner = broadcast_operand(expr)
        if inner is not None:
            return self._print(inner)
        coeff, mats = expr.as_coeff_matrices()
        mats = strip_broadcast(split_ones(list(mats)))
        total = self._sums(mats) if display.sums() else None
        if total is not None:
            mats = [total]
        args = ([coeff] if coeff != 1 else []) + mats
        neg = getattr(args[0], "is_number", False) and args[0].is_negative
        if neg:
            args = args[1:] if args[0] == -1 else [-args[0]] + args[1:]
        level = PRECEDENCE["Add"] if neg else PRECEDENCE["Mul"]
        body = " ".join(self._print(a) if isinstance(a, sp.Mul) and not isinstance(a, sp.MatMul) or _scaled(a)
                        or (decimal(a) or a.is_Rational) and a > 0 or _sum_of_transposes(a)
                        else self.parenthesize(a, level, False)
                        for a in args)
        return "- " + body if neg else body

    def _sums(self, mats):
        """Ones-vectors as the sums a textbook writes: 1_N^T X is the sum over the rows of X, X 1_M
        over its columns, P 1^T g is P times the sum of g (returned as a Printed, or None)."""
        def one(m, row):
            return isinstance(m, sp.OneMatrix) and m.shape[0 if row else 1] == 1

        def body(ms):
            e = ms[0] if len(ms) == 1 else sp.MatMul(*ms)
            return rf"\left({self._print(e)}\right)" if isinstance(e, (sp.MatAdd, sp.HadamardProduct, sp.MatMul)) \
                else self._print(e)
        if len(mats) < 2:
            return None
        rows, cols = one(mats[0], True), one(mats[-1], False)
        inner = mats[1 if rows else 0:len(mats) - 1 if cols else len(mats)]
        if (rows or cols) and inner and not any(isinstance(m, sp.OneMatrix) for m in inner):
            whole = (rows and cols) or 1 in (inner[0].shape[0], inner[-1].shape[1]) and len(inner) == 1
            over = "" if whole or (rows and cols) else (rf"_{{i=1}}^{{{self._print(inner[0].shape[0])}}}" if rows
                                                        else rf"_{{j=1}}^{{{self._print(inner[-1].shape[1])}}}")
            return Printed(rf"\sum{over} {body(inner)}")
        for i in range(1, len(mats) - 1):
            if one(mats[i], True) and mats[-1].shape[1] == 1:       # column (1^T x): times a sum
                return Printed(rf"{body(mats[:i])} \sum {body(mats[i + 1:])}")
            if one(mats[i], False) and mats[0].shape[0] == 1:       # (x^T 1) row: a sum times
                return Printed(rf"\left(\sum {body(mats[:i])}\right) {body(mats[i + 1:])}")
        return None

    def parenthesize(self, item, level, is_neg=False, strict=False):
        inner = broadcast_operand(item)
        item = item if inner is None else inner
        prec = _cheap_precedence(item)
        if prec is None:
            return super().parenthesize(item, level, is_neg, strict)
        if prec < level or (not strict and prec <= level):
            return self._add_parens(self._print(item))
        return self._print(item)


    def _print_Symbol(self, expr, style="plain"):
        if isinstance(expr, Printed):
            return expr.tex
        return name_latex(expr.name)

    def _print_MatrixSymbol(self, expr):
        return name_latex(expr.name)

    def _function(self, fname, order, arg):
        row = fns.row(fname)
        if order == 1 and row is not None and row.prime_latex:
            return row.prime_latex.format(self._print(arg))
        primes = "'" * order
        return rf"{function_latex(fname)}{primes}\left({self._print(arg)}\right)"

    def _print_Fn(self, expr):
        return self._function(expr.fname, expr.order, expr.args[2])

    def _print_Apply(self, expr):
        return self._function(expr.fname, expr.order, expr.arg)

    def _print_Softmax(self, expr):
        return rf"\operatorname{{softmax}}\left({self._print(expr.arg)}\right)"

    def _print_HadamardProduct(self, expr):
        """A broadcast 1x1 factor is a scalar: \\lambda w, not \\lambda \\odot w."""
        scalars, rest = scalar_factors(expr)
        scalars, den = divisors(scalars)
        inverse = [a for a in rest if isinstance(a, sp.HadamardPower) and a.args[1] == -1]
        if inverse and len(inverse) < len(rest):      # y ⊘ p, not (1 ⊘ p) ⊙ y
            rest = [a for a in rest if a not in inverse]
        body = r" \odot ".join(self._print(a) if _plain_transpose(a) or _sum_of_transposes(a) else self.parenthesize(a, 60)
                                for a in rest)
        if inverse and rest:
            under = r" \odot ".join(self.parenthesize(a.args[0], 1000, strict=True) for a in inverse)
            body = rf"{body} \oslash " + (rf"\left({under}\right)" if len(inverse) > 1 else under)
        if den:                                       # \frac{e}{L}, not L^{-1} e
            body = rf"\frac{{{body}}}{{{' '.join(self._print(d) for d in den)}}}"
        if not scalars:
            return body
        if not den:
            body = self._add_parens(body) if len(rest) > 1 else self.parenthesize(rest[0], 50)
        return " ".join(self.parenthesize(s, 50) for s in scalars) + " " + body

    def _print_MatAdd(self, expr):
        """Positive terms first, as the text form: p - y, not -y + p; a sum of transposes is the
        transpose of the sum, (1 - p)^T, as a textbook writes it."""
        if _sum_of_transposes(expr):
            return transposed(rf"\left({self._print(sp.MatAdd(*[_untransposed(t) for t in expr.args]))}\right)")
        return join_terms(expr, self._print, self._add_parens, "- ")

    def _print_HadamardPower(self, expr):
        base, p = expr.args
        if p == -1:
            return rf"1 \oslash {self.parenthesize(base, 1000, strict=True)}"
        if p.is_Integer and p > 0:
            return rf"{self.parenthesize(base, 1000, strict=True)}^{{\circ {p}}}"
        return rf"{self.parenthesize(base, 1000, strict=True)}^{{\circ\left({self._print(p)}\right)}}"

    def _print_Transpose(self, expr):
        if expr.arg.shape == (1, 1):             # a scalar's transpose is the scalar: lambda, not lambda^T
            return self.parenthesize(expr.arg, 1000, strict=True)
        if isinstance(expr.arg, Inverse):        # X^{-T}, not a double superscript
            return rf"{self.parenthesize(expr.arg.arg, 1000, strict=True)}^{{-\top}}"
        return transposed(self.parenthesize(expr.arg, 1000, strict=True))

    def _print_ZeroMatrix(self, expr):
        return "0"

    def _print_Identity(self, expr):
        return "1" if is_one(expr) else super()._print_Identity(expr)

    def _print_OneMatrix(self, expr):
        r, c = expr.shape
        if r == 1 and c == 1:
            return "1"
        if r == 1:
            return rf"\mathbf{{1}}_{{{self._print(c)}}}^{{\top}}"
        if c == 1:
            return rf"\mathbf{{1}}_{{{self._print(r)}}}"
        return rf"\mathbf{{1}}_{{{self._print(r)} \times {self._print(c)}}}"

    def _print_DiagMatrix(self, expr):
        return rf"\operatorname{{diag}}\left({self._print(expr.args[0])}\right)"

    def _print_MatrixElement(self, expr):
        parent, i, j = expr.args
        idx = [self._print(k) for k, n in ((i, parent.shape[0]), (j, parent.shape[1])) if n != 1]
        return f"{name_latex(str(parent))}_{{{''.join(idx)}}}"

    def _print_KroneckerDelta(self, expr, exp=None):
        return rf"\delta_{{{self._print(expr.args[0])}{self._print(expr.args[1])}}}"

    def _print_Heaviside(self, expr, exp=None):
        return rf"\mathbb{{1}}\left[{self._print(expr.args[0])} > 0\right]"


def latex(expr) -> str:
    try:
        return _latex_cached(expr, display.current())
    except TypeError:                    # unhashable: print directly
        return Printer({"mul_symbol": None}).doprint(expr)


@functools.lru_cache(maxsize=4096)
def _latex_cached(expr, names) -> str:   # names: the display table in force, part of the key
    return Printer({"mul_symbol": None}).doprint(expr)


def shape_latex(shape) -> str:
    if shape is None:
        return r"\mathbb{R}"
    return rf"\mathbb{{R}}^{{{dimension(shape[0], latex)} \times {dimension(shape[1], latex)}}}"


def shape_text(shape) -> str | None:
    return None if shape is None else f"{dimension(shape[0], text)}×{dimension(shape[1], text)}"
