"""How long an expression is: its operands as printed (names and numbers; ones-vectors that only
broadcast or sum count nothing, a sum's axis counts one)."""
from __future__ import annotations

import sympy as sp

from .. import symbolic as sy


def operands(e) -> int:
    if isinstance(e, (sp.Symbol, sp.MatrixSymbol)):
        return 1
    if isinstance(e, sp.Number):
        return 0 if e in (1, -1) else (1 if e.is_Integer or e.q == 1 else 2)
    if isinstance(e, sp.OneMatrix):
        return 1
    if isinstance(e, sp.MatMul):
        coeff, mats = e.as_coeff_matrices()
        ones = sum(1 for m in mats if isinstance(m, sp.OneMatrix))
        rest = [m for m in mats if not isinstance(m, sp.OneMatrix)]
        if not rest:
            return operands(coeff) + 1
        return operands(coeff) + sum(operands(m) for m in rest) + (1 if ones and _reduces(mats) else 0)
    if isinstance(e, (sy.Apply, sy.Fn)):
        return operands(e.args[2])
    if isinstance(e, sp.Pow) and e.exp == -1:
        return operands(e.base)
    if isinstance(e, sp.HadamardPower) and e.args[1] == -1:
        return operands(e.args[0])
    return sum(operands(a) for a in e.args) if e.args else 1


def _reduces(mats) -> bool:
    first, last = mats[0], mats[-1]
    return (isinstance(first, sp.OneMatrix) and first.shape[0] == 1 and first.shape[1] != 1) or \
        (isinstance(last, sp.OneMatrix) and last.shape[1] == 1 and last.shape[0] != 1)
