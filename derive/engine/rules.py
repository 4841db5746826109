"""The vector-Jacobian rules, one per SymPy class, each beside the words a student reads beside
the step (RULES); pull_back pushes an adjoint down one equation's right-hand side with them."""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.errors import UnsupportedError
from derive.expr import conv_ops, matrix_ops
from derive.expr import functions as fns
from derive.expr import matrix as sy
from derive.runtime import limits


# ---- the rules: (expression, upstream adjoint) -> [(child, contribution)] ------------------
def _T(g):
    return g.T if isinstance(g, MatrixExpr) else g


def _mul_rule(e, g):
    out = []
    for i, a in enumerate(e.args):
        rest = sp.Mul(*(e.args[:i] + e.args[i + 1:]))
        out.append((a, g * rest))
    return out


def _matmul_rule(e, g):
    coeff, mats = e.as_coeff_matrices()
    out = []
    for i, m in enumerate(mats):
        left, right = mats[:i], mats[i + 1:]
        c = coeff * g if not isinstance(g, MatrixExpr) else coeff
        parts = [_T(sp.MatMul(*left)) if left else None, g if isinstance(g, MatrixExpr) else None,
                 _T(sp.MatMul(*right)) if right else None]
        parts = [p for p in parts if p is not None]
        contrib = c * (sp.MatMul(*parts) if len(parts) > 1 else parts[0]) if parts else c
        out.append((m, contrib))
    return out


def _hadamard_rule(e, g):
    return [(a, sy.hadamard(g, *(e.args[:i] + e.args[i + 1:]))) for i, a in enumerate(e.args)]


def _hpow_rule(e, g):
    base, p = e.args
    return [(base, sy.hadamard(g, p * (sp.HadamardPower(base, p - 1) if p != 2 else base)))]


def _pow_rule(e, g):
    base, p = e.args
    out = [(base, g * p * base ** (p - 1))]
    if p.free_symbols:
        out.append((p, g * e * sp.log(base)))
    return out


def _softmax_rule(e, g):
    """softmax over a column or a row vector: P ⊙ g − P (Σ P ⊙ g)."""
    pg = sy.hadamard(e, g)
    s = sy.total(pg)
    return [(e.arg, pg - (e * s if e.shape[1] == 1 else s * e))]


def _fn_rule(e, g):
    arg = e.args[2]
    d = fns.derivative(e.fname, e.order + 1, arg)
    return [(arg, sy.hadamard(g, d) if isinstance(arg, MatrixExpr) else g * d)]


def _extremum_rule(e, g):
    """max(a, b, ...) of numbers passes g to the argument that is largest: relu'(a - b) for each
    other argument b (min: smallest); ties have measure zero at the sample points."""
    sign = 1 if isinstance(e, sp.Max) else -1
    return [(a, g * sp.Mul(*[fns.apply("relu", 1, sign * (a - b)) for b in e.args if b != a])) for a in e.args]


# the label is what a student reads beside the step; SUM and SCALED pass the gradient on unchanged
SUM, SCALED = "the gradient of a sum", "a constant factor"
RULES = {
    sp.Add: (lambda e, g: [(a, g) for a in e.args], SUM),
    sp.MatAdd: (lambda e, g: [(a, g) for a in e.args], SUM),
    sp.Mul: (_mul_rule, "the product rule"),
    sp.MatMul: (_matmul_rule, "the gradient of a matrix product"),
    sp.HadamardProduct: (_hadamard_rule, "the gradient of a Hadamard product"),
    sp.HadamardPower: (_hpow_rule, "the power rule"),
    sp.Pow: (_pow_rule, "the power rule"),
    sp.Transpose: (lambda e, g: [(e.arg, _T(g))], "the gradient of a transpose"),
    sp.exp: (lambda e, g: [(e.args[0], g * e)], "the chain rule through exp"),
    sp.log: (lambda e, g: [(e.args[0], g / e.args[0])], "the chain rule through log"),
    sp.tanh: (lambda e, g: [(e.args[0], g * (1 - e ** 2))], "the chain rule through tanh"),
    fns.Fn: (_fn_rule, None),
    fns.Apply: (_fn_rule, None),
    fns.Softmax: (_softmax_rule, "the softmax Jacobian"),
    sp.Max: (_extremum_rule, "the gradient of a max: the largest argument"),
    sp.Min: (_extremum_rule, "the gradient of a min: the smallest argument"),
    **{op: (lambda e, g: e.vjp(g), op.rule) for op in matrix_ops.OPS + conv_ops.OPS},   # each op's own rule
}


def _label(e) -> str:
    if isinstance(e, (fns.Fn, fns.Apply)):
        return f"the chain rule through {e.fname}" + ("'" * e.order)
    if isinstance(e, sp.MatMul):
        coeff, mats = e.as_coeff_matrices()
        if sy.contracting_ones(mats) is not None:
            return "the gradient of a sum of entries (copied to each entry)"     # 1^T x, X 1
        if any(isinstance(a, sp.OneMatrix) and a.shape != (1, 1) for a in mats):
            return "the gradient of a broadcast (summed over the copies)"        # 1_N b^T
        if len(mats) == 1 and coeff.is_number:
            return SCALED
    if isinstance(e, sp.Mul) and sum(1 for a in e.args if not a.is_number) == 1:
        return SCALED
    return RULES[type(e)][1]


def rule_words(labels) -> str:
    """One path's rule labels as a phrase: the pass-through ones (a sum, a constant factor) are
    left out where there is more to say; an equation that only renames a node is 'the identity'."""
    said = [x for x in labels if x not in (SUM, SCALED)] or list(labels[:1])
    return ", then ".join(said) if said else "the identity"


def _depends(e, names: frozenset) -> bool:
    return any(str(s) in names for s in e.free_symbols) if not isinstance(e, (sp.MatrixSymbol, sp.Symbol)) \
        else str(e) in names


def _topo(root, names):
    order, seen = [], set()

    def visit(e):
        if e in seen or not _depends(e, names):
            return
        seen.add(e)
        if not isinstance(e, (sp.Symbol, sp.MatrixSymbol)):
            for a in e.args:
                visit(a)
        order.append(e)
    visit(root)
    return order


def pull_back(rhs, g, names: frozenset) -> dict:
    """Push adjoint g through rhs; returns {named leaf: (contribution, rule labels)}."""
    adj = {rhs: (g, ())}
    leaves = {}
    for e in reversed(_topo(rhs, names)):
        limits.check()
        if e not in adj:
            continue
        ge, labels = adj.pop(e)
        if isinstance(e, (sp.Symbol, sp.MatrixSymbol)):
            leaves[str(e)] = (ge, labels)
            continue
        rule = RULES.get(type(e))
        if rule is None:
            raise UnsupportedError(f"the engine cannot differentiate {e} (it has no vector-Jacobian rule for "
                                   f"{type(e).__name__}); it differentiates sums, products, matrix and Hadamard "
                                   "products, powers, transposes, exp, log, tanh, softmax, max, min and the "
                                   "functions of the function table: write the equation with those")
        for child, contrib in rule[0](e, ge):
            if not _depends(child, names):
                continue
            lab = labels + ((_label(e),) if _label(e) not in labels else ())
            if child in adj:
                prev, pl = adj[child]
                if isinstance(prev, MatrixExpr) != isinstance(contrib, MatrixExpr):   # the output's seed 1
                    prev, contrib = (x if isinstance(x, MatrixExpr) else x * sp.Identity(1) for x in (prev, contrib))
                adj[child] = (prev + contrib, pl + tuple(x for x in lab if x not in pl))
            else:
                adj[child] = (contrib, lab)
    return leaves
