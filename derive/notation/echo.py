"""A parsed answer (the parser's syntax tree) printed back as LaTeX: the live preview, and the
"interpreted as" line of an answer that could not be built (a shape that does not conform), and
the sheets' forward pass as the problem file writes it (w_1 x + b_1, not SymPy's b_1 + w_1 x).

This is what the parser read, structure and all (an explicit transpose, the grouping of a
product), before any algebra: no SymPy object is built, so the preview is cheap and safe to
run on every keystroke. Names come from the lexer (letters and digits only) and are printed
with the sheets' notation; nothing of the typed text reaches the LaTeX except such names and
number literals.
"""
from __future__ import annotations

from derive.notation import parser as mp
from derive.expr import conv_ops, matrix_ops
from derive.expr import functions as fns
from derive.notation.build_ops import is_keyword
from derive.notation.latex import function_latex, name_latex, transposed

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "hadamard": 2, "neg": 1.5, "^": 4, "^∘": 4}
_ATOM = 5
# calls that are not rows of the function table: the matrix operations and the reductions
_OPERATORS = {op.name: op.tex or rf"\operatorname{{{op.name}}}" for op in matrix_ops.OPS + conv_ops.OPS
              if isinstance(op.name, str) and op.name} | {
    "softmax": r"\operatorname{softmax}", "sum": r"\sum", "mean": r"\operatorname{mean}"} | {
    f"{op}{d}d": rf"\operatorname{{{op}{d}d}}" for op in ("conv", "maxpool", "unpool") for d in (1, 2)}
# calls a textbook writes with their own brackets: sqrt(x) is a root, abs(x) |x|, norm(x) ||x||
_BRACKETED = {"sqrt": (r"\sqrt{", "}"), "abs": (r"\left|", r"\right|"), "norm": (r"\left\|", r"\right\|"),
              "inv": (r"\left(", r"\right)^{-1}")}


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
        if t.fn in _BRACKETED and len(t.args) == 1 and not t.order:
            opening, closing = _BRACKETED[t.fn]
            return opening + tree_latex(t.args[0], textbook) + closing
        head = (_OPERATORS[t.fn] if fns.row(t.fn) is None and t.fn in _OPERATORS else function_latex(t.fn)) \
            + "'" * t.order
        if not t.args:
            return head
        return head + r"\left(" + ", ".join(rf"\mathrm{{{a.args[0].id.replace('_', chr(92) + '_')}}}={tree_latex(a.args[1], textbook)}"
                                              if is_keyword(a) else tree_latex(a, textbook) for a in t.args) + r"\right)"
    if t.op == "/":
        return rf"\frac{{{tree_latex(t.left, textbook)}}}{{{tree_latex(t.right, textbook)}}}"
    if t.op in ("^", "^∘"):                     # x^T ^ 2: a transposed base is braced (no double superscript)
        base = "{" + tree_latex(t.left, textbook) + "}" if isinstance(t.left, mp.Transpose) else _wrap(t.left, _ATOM, textbook)
        return base + "^{" + r"\circ " * (t.op == "^∘") + tree_latex(t.right, textbook) + "}"
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
