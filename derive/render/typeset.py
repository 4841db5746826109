"""LaTeX laid out on a sheet: display math broken into lines of the page's width, numbers and
relative errors as a sheet prints them, and the labels of the graph's operator nodes."""
from __future__ import annotations

import math

import re

import sympy as sp
from sympy.core.function import _coeff_isneg

from derive.notation.latex import Printer, function_latex, latex
from derive.notation.text import text

_CMD_WIDTH = {r"\odot": 1, r"\oslash": 1, r"\top": 1, r"\times": 1, r"\cdot": 1, r"\circ": 1, r"\sum": 1}


def visible_width(tex: str) -> float:
    """A rough count of the glyphs a LaTeX math string prints (for deciding where to break)."""
    s = re.sub(r"\\(left|right)\b|\\(mathbf|mathbb|operatorname|mathrm|hat)\b", "", tex)
    s = re.sub(r"\\frac\{\\partial ([^{}]*(?:\{[^{}]*\})?)\}\{\\partial ([^{}]*(?:\{[^{}]*\})?)\}",
               lambda m: "d" + (m[1] if len(m[1]) > len(m[2]) else m[2]), s)
    s = re.sub(r"\\(odot|times|cdot)\b|(?<=[^{(\s])\s*[-+=]", "xxx", s)   # binary operators carry space
    s = re.sub(r"\\[A-Za-z]+", "x", s)              # \sigma, \epsilon: one glyph each
    s = re.sub(r"[_^]\{([^{}]*)\}", lambda m: "." * max(1, len(m[1]) // 2), s)   # scripts are small
    s = re.sub(r"[{}\s]", "", s)
    return float(len(s))


def _terms(expr):
    """The top-level summands of expr as (negative, term) with the sign taken out, or None."""
    if isinstance(expr, sp.Add):
        terms = Printer()._as_ordered_terms(expr)
    elif isinstance(expr, sp.MatAdd):
        terms = list(expr.args)
    else:
        return None
    return [(True, -t) if _coeff_isneg(t) else (False, t) for t in terms]


def latex_lines(expr, width: float = 64) -> list[str]:
    """expr as LaTeX broken before + and - into lines of at most `width` glyphs (where it can be)."""
    whole = latex(expr)
    terms = _terms(expr) if visible_width(whole) > width else None
    if not terms:
        return [whole]
    lines, cur = [], ""
    for k, (neg, t) in enumerate(terms):
        body = latex(t)
        if isinstance(t, (sp.Add, sp.MatAdd)):
            body = rf"\left({body}\right)"
        piece = ("- " if neg else ("+ " if k else "")) + body
        if cur and visible_width(cur + piece) > width:
            lines.append(cur)
            cur = piece
        else:
            cur = f"{cur} {piece}".strip()
    lines.append(cur)
    return lines


def fits(lines, width: float = 64) -> bool:
    return all(visible_width(line) <= width * 1.15 for line in lines)


def number_latex(v: float | None, digits: int = 4) -> str:
    """0.6199999 -> 0.62, -0.08000001 -> -0.08, 3.2e-07 -> 3.2 \\times 10^{-7}."""
    if v is None:
        return ""
    v = float(v)
    if v == 0:
        return "0"
    if not math.isfinite(v):
        return r"\mathrm{NaN}" if v != v else ("-" if v < 0 else "") + r"\infty"
    if v == round(v) and 10 ** digits <= abs(v) < 1e15:     # a count: 557057 -> 557\,057, all digits
        return f"{int(round(v)):,}".replace(",", r"\,")
    s = f"{v:.{digits}g}"
    if "e" in s:
        mant, exp = s.split("e")
        return rf"{mant} \times 10^{{{int(exp)}}}"
    return s


def error_latex(err: float) -> str:
    """A relative error as a coarse bound: 0 -> 0; 4.7e-11 -> < 10^{-7}; a failure shows its value.

    Sheets are golden files: the last digits of a finite difference move with summation order,
    so a passing error is shown by the decade it is safely below, not by its noise."""
    if err == 0:
        return "0"
    for bound in (12, 7):
        if err < 10.0 ** -bound:
            return rf"< 10^{{-{bound}}}"
    mant, exp = f"{err:.1e}".split("e")
    return rf"{mant} \times 10^{{{int(exp)}}}"


OP_LABELS = {
    "add": "+", "sub": "-", "neg": "-", "mul": r"\times", "matmul": r"\times", "hadamard": r"\odot",
    "transpose": r"(\cdot)^{\top}", "softmax": r"\operatorname{softmax}", "sum": r"\Sigma",
    "mean": r"\operatorname{mean}", "id": "=",
}


def op_latex(kind: str, param=None) -> str:
    """The label of a graph operator node: +, \\times, \\odot, \\sigma, (\\cdot)^{2}, mean."""
    if kind in ("pow", "hpow"):
        if param == -1 and kind == "pow":
            return r"1/(\cdot)"
        circ = r"\circ " if kind == "hpow" else ""
        return rf"(\cdot)^{{{circ}{latex(param)}}}"
    if kind == "fn":
        name, primes = str(param).rstrip("'"), str(param)[len(str(param).rstrip("'")):]
        return function_latex(name) + primes
    if kind == "matrixop":
        return rf"\operatorname{{{param.replace('_', '')}}}"
    if kind == "scale":
        return rf"{latex(param)}\,\times"
    return OP_LABELS[kind]


def op_text(kind: str, param=None) -> str:
    """The same label as plain text, for Graphviz."""
    if kind in ("pow", "hpow"):
        return f"^{text(param)}"
    if kind in ("fn", "matrixop"):
        return str(param)
    if kind == "scale":
        return f"{text(param)}×"
    return {"add": "+", "sub": "-", "neg": "-", "mul": "×", "matmul": "@", "hadamard": "⊙",
            "transpose": "T", "sum": "Σ", "id": "="}.get(kind, kind)


def given_latex() -> str:
    return r"\text{given}"


def seed_latex() -> str:
    return r"\text{seed}"
