"""A syntax tree printed back as LaTeX, in the order it was written: the web page's live preview
of an answer, and the sheets' forward pass as the problem file writes it (w_1 x + b_1, not
SymPy's b_1 + w_1 x).

This is what the parser read, structure and all (an explicit transpose, the grouping of a
product), before any algebra: no SymPy object is built, so the preview is cheap and safe to
run on every keystroke. Names come from the lexer (letters and digits only) and are printed
with the sheets' notation; nothing of the typed text reaches the LaTeX except such names and
number literals.
"""
from __future__ import annotations

from derive.notation import parser as mp
from derive.notation.latex import name_latex, transposed

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "hadamard": 2, "neg": 1.5, "^": 4}
_ATOM = 5


def _prec(t) -> float:
    if isinstance(t, mp.BinOp):
        return _PRECEDENCE[t.op]
    if isinstance(t, mp.Neg):
        return _PRECEDENCE["neg"]
    if isinstance(t, mp.Num) and t.text.startswith("-"):
        return _PRECEDENCE["neg"]
    return _ATOM


def _wrap(t, above: float, textbook: bool = False) -> str:
    s = tree_latex(t, textbook)
    return rf"\left({s}\right)" if _prec(t) < above else s


def tree_latex(t, textbook: bool = False) -> str:
    """LaTeX of a syntax tree (mathparse.Node), parenthesised where the structure needs it; with
    `textbook`, an explicit * is written as a textbook does (2 w_1 x; a dot only before a number)."""
    if isinstance(t, mp.Num):
        return t.text
    if isinstance(t, mp.Name):
        return name_latex(t.id)
    if isinstance(t, mp.Transpose):
        return transposed(_wrap(t.operand, _ATOM, textbook))
    if isinstance(t, mp.Neg):
        return "-" + _wrap(t.operand, 2, textbook)
    if isinstance(t, mp.Call):
        if t.fn == "sum" and len(t.args) == 2 and isinstance(t.args[1], mp.Name):
            return rf"\sum_{{{name_latex(t.args[1].id)}}} " + _wrap(t.args[0], 2, textbook)
        head = name_latex(t.fn) + "'" * t.order
        if not t.args:
            return head
        return head + r"\left(" + ", ".join(tree_latex(a, textbook) for a in t.args) + r"\right)"
    if t.op == "/":
        return rf"\frac{{{tree_latex(t.left, textbook)}}}{{{tree_latex(t.right, textbook)}}}"
    if t.op == "^":
        return _wrap(t.left, _ATOM, textbook) + "^{" + tree_latex(t.right, textbook) + "}"
    if textbook and t.op == "*" and isinstance(t.left, mp.Neg):      # -w1*x is -(w_1 x), as it reads
        return "-" + tree_latex(mp.BinOp("*", t.left.operand, t.right, implicit=t.implicit), textbook)
    p = _PRECEDENCE[t.op]
    mixed = t.op in ("*", "hadamard") and isinstance(t.left, mp.BinOp) and t.left.op in ("*", "hadamard", "/") \
        and t.left.op != t.op                    # (A B) ⊙ C: a matrix product beside ⊙ is bracketed
    left = _wrap(t.left, p + 0.5 if mixed else p, textbook)
    right = _wrap(t.right, p + (0 if t.op in ("+", "*") else 0.5), textbook)
    if t.op == "*":
        juxtaposed = t.implicit or textbook and not isinstance(t.right, mp.Num)
        return f"{left} {right}" if juxtaposed else rf"{left} \cdot {right}"
    if t.op == "hadamard":
        return rf"{left} \odot {right}"
    return f"{left} {t.op} {right}"
