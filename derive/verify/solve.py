"""The pipeline in one function: load -> derive -> verify -> Solution."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive.engine.backprop import Derivation, derive
from derive.notation import display
from derive.notation.latex import latex, name_latex, shape_text
from derive.notation.text import text
from derive.problem.load import Problem, load
from derive.runtime import limits
from derive.verify.instances import Given, at_given_values
from derive.verify.proof import verify


@dataclass(frozen=True)
class Solution:
    """A derivation with its numeric proof; shows as LaTeX in Jupyter, `to_dict` is the JSON."""

    problem: Problem
    derivation: Derivation
    checks: tuple          # verify.Check, one per quantity
    given: Given | None = None   # every node and gradient at the problem's given numbers, if it has them

    @property
    def verified(self) -> bool:
        return all(c.verified for c in self.checks)

    def check_for(self, name: str):
        return next(c for c in self.checks if c.name == name)

    def steps_on_path(self) -> tuple:
        """The steps an asked quantity needs: the gradients at the asked nodes and every gradient
        their steps use, in the derivation's order (a TA's solution, not the whole backward pass)."""
        d, p = self.derivation, self.problem
        node_of = {str(sym): node for node, (sym, _, _) in d.adjoints.items()}
        node_of.update({p.adjoint_names[n]: n for n in d.adjoints})
        by_node = {s.node: s for s in d.steps}
        todo = [r.quantity.wrt for r in d.results if r.quantity.kind.asks_gradient and r.quantity.wrt]
        need: set = set()
        while todo:
            node = todo.pop()
            if node in need or node not in by_node:
                continue
            need.add(node)
            todo += [node_of[str(x)] for x in by_node[node].general.free_symbols if str(x) in node_of]
        return tuple(s for s in d.steps if s.node in need)

    def to_dict(self, quantity: str | None = None) -> dict:
        with display.using(self.problem.display):
            return self._dict(quantity)

    def _dict(self, quantity) -> dict:
        p = self.problem
        results = [r for r in self.derivation.results if quantity is None or r.quantity.name == quantity]
        return {
            "id": p.id, "alias": p.alias, "title": p.title,
            "steps": [{"name": s.name, "rule": s.rule,
                       "latex": f"{latex(p.scope.symbols[s.name])} = {latex(s.general)}"}
                      for s in self.derivation.steps],
            "quantities": [self._quantity_dict(r) for r in results],
        }

    def _quantity_dict(self, r) -> dict:
        q, c = r.quantity, self.check_for(r.quantity.name)
        if not q.kind.graded:
            return {"name": q.name, "kind": q.kind.name, "text": " ".join(q.model_answer.split()), "latex": None,
                    "shape": None, "value": None, "verified": True, "max_rel_error": 0.0, "graded": False,
                    "checked_by": q.kind.checked_by}
        shown = r.index_form if r.index_form is not None else r.expr
        forms = [shown] + ([r.closed] if q.kind.shows_closed and r.closed != r.expr else [])  # (n_1, batch) = (1024, 32)
        return {"name": q.name, "kind": q.kind.name, "text": " = ".join(map(text, forms)),
                "latex": " = ".join(map(latex, forms)),
                "shape": shape_text(r.shape) if r.index_form is None else None,
                "value": _round(c.value), "verified": c.verified,
                "max_rel_error": float(f"{c.max_rel_error:.3g}"), "graded": True,
                "checked_by": q.kind.checked_by}

    def _repr_latex_(self) -> str:
        rows = " \\\\ ".join(f"{name_latex(r.quantity.name)} &= {latex(r.expr)}" for r in self.derivation.results)
        return f"$\\displaystyle \\begin{{aligned}} {rows} \\end{{aligned}}$"


def _round(v):
    return None if v is None else float(f"{v:.12g}")


def solve(problem, extra=None, timeout: float | None = None) -> Solution:
    """Derive every asked quantity of a problem and verify each numerically, within `timeout`
    seconds (default limits.SOLVE_TIMEOUT; limits.TimeLimit otherwise)."""
    p = load(problem, extra)
    with limits.deadline(timeout or limits.SOLVE_TIMEOUT, p.path), np.errstate(all="ignore"):
        d = derive(p)                    # overflow at a given value is a NOT VERIFIED line, not a warning
        given = at_given_values(d)
        return Solution(p, d, verify(d, given=given), given)
