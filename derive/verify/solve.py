"""The pipeline in one function: load -> derive -> verify -> Solution."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive.engine.backprop import Derivation, derive
from derive.notation import display
from derive.notation import words
from derive.notation.latex import function_latex, latex, name_latex, shape_latex, shape_text
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

    def steps_on_path(self, quantity: str | None = None) -> tuple:
        """The steps the asked quantities (or only `quantity`) need: the gradients at their nodes and
        every gradient those steps use, in the derivation's order (a TA's solution, not the whole
        backward pass)."""
        d, p = self.derivation, self.problem
        node_of = {str(sym): node for node, (sym, _, _) in d.adjoints.items()}
        node_of.update({p.adjoint_names[n]: n for n in d.adjoints})
        by_node = {s.node: s for s in d.steps}
        todo = [r.quantity.wrt for r in d.results if r.quantity.kind.asks_gradient and r.quantity.wrt
                and quantity in (None, r.quantity.name)]
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

    # ---- Jupyter: the whole derivation, in the problem's notation --------------------------------
    def _derivation_rows(self) -> tuple[str, str]:
        """(the steps on the path to the asked quantities, the results) as aligned LaTeX rows."""
        sym = self.problem.scope.symbols
        steps = [f"{latex(sym[s.name])} &= {latex(s.general)} && {_rule_tex(s.rule)}" for s in self.steps_on_path()]
        results = [f"{name_latex(r.quantity.name)} &= {latex(r.index_form if r.index_form is not None else r.expr)}"
                   + (rf" \in {shape_latex(r.shape)}" if r.shape and r.index_form is None else "")
                   for r in self.derivation.results if r.quantity.kind.graded]
        return " \\\\ ".join(steps), " \\\\ ".join(results)

    def _repr_latex_(self) -> str:
        with display.using(self.problem.display, sums=True):
            steps, results = self._derivation_rows()
        rows = " \\\\[4pt] ".join(x for x in (steps, results) if x)
        return f"$\\displaystyle \\begin{{aligned}} {rows} \\end{{aligned}}$"

    def _repr_markdown_(self) -> str:
        p = self.problem
        with display.using(p.display, sums=True):
            steps, results = self._derivation_rows()
            checked = [r.quantity.name for r in self.derivation.results if r.quantity.kind.shows_error]
            names = ", ".join(f"${name_latex(n)}$" for n in checked)
        out = [f"**{p.alias or p.id}: {p.title}**", ""]
        if steps:
            out += ["Backward pass:", "", f"$$\\begin{{aligned}} {steps} \\end{{aligned}}$$", ""]
        if results:
            out += ["Results:", "", f"$$\\begin{{aligned}} {results} \\end{{aligned}}$$", ""]
        for r in self.derivation.results:
            if not r.quantity.kind.graded:
                out += [f"*{r.quantity.name}* (model answer): " + " ".join(r.quantity.model_answer.split()), ""]
        if checked:
            worst = max(self.check_for(n).max_rel_error for n in checked)
            out.append(("Verified numerically" if self.verified else "**Not verified**") +
                       f": {names} (max relative error {worst:.1e}).")
        return "\n".join(out)


def _rule_tex(rule: str) -> str:
    printers = {"function": function_latex, "name": name_latex}
    return " ".join(rf"\text{{{s}}}" if kind == "text" else words.name_with_primes(s, printers[kind])
                    for kind, s in words.rule_parts(rule))


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
