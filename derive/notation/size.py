"""The size of an expression: the number of operands (symbols and numbers) in its plain-text
form, the measure by which a derived closed form is compared with a textbook's (issue 11).

Function names (sigma', sum), the transpose mark (^T) and the axis of sum(X, 0) are not
operands; the ones-vector 1 and every number written are.
"""
from __future__ import annotations

import sympy as sp

from derive.expr import functions as sy
from derive.expr.functions import ACTIVATIONS, FUNCTION_ALIASES, MATRIX_FUNCTIONS
from derive.expr.matrix_ops import Op
from derive.notation import build_ops
from derive.notation.lexers import lex_text
from derive.notation.text import text
from derive.runtime.memo import IdMemo



def callable_names() -> frozenset:
    """Every built-in name that takes an argument list (the function table's rows and aliases, the
    matrix operations)."""
    return frozenset(ACTIVATIONS) | frozenset(FUNCTION_ALIASES) | MATRIX_FUNCTIONS | build_ops.NAMES


AXIS_TAKING = frozenset({"sum", "mean", "softmax", "log_softmax", "logsumexp"})


def size(expr, names: dict | None = None, functions=()) -> int:
    """Operands of `expr` (a SymPy expression, printed with notation.text, or text already).
    `names` maps a problem's multi-character names (dL/dy) to one name each, as the answer
    lexer reads them (Problem.scope.aliases); `functions` are its abstract functions (f1)."""
    tokens = lex_text(expr if isinstance(expr, str) else text(expr), names)
    callable_ = callable_names() | frozenset(functions)
    count, calls = 0, []                # calls: for each open bracket, the function it calls (or None)
    for k, t in enumerate(tokens):
        before = tokens[k - 1] if k else None
        after = tokens[k + 1] if k + 1 < len(tokens) else None
        if t.kind == "(":
            fn = before.value if before is not None and before.kind == "name" and \
                (before.value in callable_ or before.primes) else None
            calls.append(fn)
        elif t.kind == ")":
            if calls:
                calls.pop()
        elif t.kind == "name":
            is_call = after is not None and after.kind == "(" and (t.value in callable_ or t.primes)
            is_transpose = t.value in ("T", "top") and before is not None and before.value == "^"
            keyword = after is not None and after.kind == "op" and after.value == "=" and t.value in build_ops.KEYWORDS
            count += not (is_call or is_transpose or keyword)
        elif t.kind == "num":
            is_axis = (before is not None and before.kind == "," and after is not None and after.kind == ")"
                       and calls and calls[-1] in AXIS_TAKING)
            count += not (is_axis or before is not None and before.kind == "op" and before.value == "=")
    return count


def operands(e) -> int:
    """size() counted on the SymPy tree, without printing (the simplifier compares many candidates)."""
    return _OPERANDS(e)


def _count(e) -> int:
    if isinstance(e, (sp.Symbol, sp.MatrixSymbol)):
        return 1
    if isinstance(e, sp.Number):
        return 0 if e in (1, -1) else (1 if e.is_Integer or e.q == 1 else 2)
    if isinstance(e, sp.OneMatrix):
        return 1
    if isinstance(e, sp.MatMul):
        coeff, mats = e.as_coeff_matrices()
        rest = [m for m in mats if not isinstance(m, sp.OneMatrix)]
        if not rest:
            return operands(coeff) + 1
        return operands(coeff) + sum(operands(m) for m in rest)
    if isinstance(e, (sy.Apply, sy.Fn)):
        return operands(e.args[2])
    if isinstance(e, Op):                      # its axis, stride or window is not an operand
        return sum(operands(a) for a in e.inputs)
    if isinstance(e, sp.Pow) and e.exp in (-1, sp.S.Half, -sp.S.Half):
        return operands(e.base)                # 1/x, sqrt(x), 1/sqrt(x): the exponent is not written
    if isinstance(e, sp.HadamardPower) and e.args[1] == -1:
        return operands(e.args[0])
    return sum(operands(a) for a in e.args) if e.args else 1


_OPERANDS = IdMemo(_count)
