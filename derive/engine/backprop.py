"""Reverse mode over named equations: one vector-Jacobian rule per SymPy class.

For each forward equation `out = rhs`, the adjoint of `out` (a named symbol such as delta3
or dL/dh3) is pushed down the right-hand side with the rules of engine/rules.py; whatever reaches a
named input is that equation's contribution to the input's adjoint. Contributions from
several equations are summed ("sum over the paths"). Every adjoint stays a short expression
over named intermediates (a Step); substituting them gives the closed form.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.engine import jacobian as jac
from derive.engine.rules import pull_back, rule_words
from derive.engine.simplify import Simplifier, tidy
from derive.errors import UnsupportedError
from derive.expr import functions as fns
from derive.expr import matrix as sy
from derive.problem.load import Problem, Quantity
from derive.runtime import limits


@dataclass(frozen=True)
class Step:
    name: str            # the adjoint's name: delta3, dL/dh1
    node: str            # the forward node it is the gradient at
    rule: str            # which rules produced it, in words
    general: object      # in terms of the downstream adjoints (one line, like a TA writes)
    closed: object       # everything substituted


@dataclass(frozen=True)
class Result:
    quantity: Quantity
    expr: object         # the answer as the problem wants it (deltas where named; layout applied)
    closed: object       # closed form, in forward names and givens only
    shape: tuple | None
    index_form: object = None   # entry form for index quantities (P_i - y_i)
    paths: object = None        # in the named and `keep` gradients, one term per path as the steps have it

    def forms(self) -> list:
        """The distinct forms in a fixed order, the sum over paths first: never a set's order, which
        follows each process's string hashes (the diagnosis then named other mistakes in other runs)."""
        out = []
        for f in (self.paths, self.expr, self.closed):
            if f is not None and not any(f == g for g in out):
                out.append(f)
        return out


@dataclass(frozen=True)
class Derivation:
    problem: Problem
    steps: tuple         # Step, from the output backwards
    results: tuple       # Result, one per asked quantity
    adjoints: dict       # node -> (symbol, general, closed)
    simplifier: Simplifier = field(compare=False, repr=False)   # its closed forms' memo, for the steps

    def closed_form(self, expr):
        """expr (a step's closed form, say) simplified as the results were, sharing their work."""
        return self.simplifier.closed_form(expr)

    def result(self, name: str) -> Result:
        q = self.problem.quantity(name)
        return next(r for r in self.results if r.quantity.name == q.name)


# ---- the derivation -------------------------------------------------------------------------
def derive(problem: Problem) -> Derivation:
    """All adjoints of the problem, as Steps, and every asked quantity."""
    sym = problem.scope.symbols
    nodes = frozenset(list(problem.inputs) + [e.name for e in problem.equations])
    adj_sym = {n: internal_symbol(problem, n) for n in nodes}
    # a vector output has no gradient (its Jacobians are jacobian.py's): nothing is pulled back from it
    scalar_out = problem.output in nodes and problem.node_shape(problem.output) in (None, (1, 1))
    seeds = {problem.output: sp.Integer(1)} if scalar_out else {}
    for gname, node in problem.given.items():
        seeds[node] = adj_sym[node]

    contributions: dict[str, list] = {}
    for eq in reversed(problem.equations):
        limits.check()
        if eq.name == problem.output and scalar_out:
            g = sp.Integer(1)
        elif eq.name in seeds and eq.name in contributions:   # given, and reached from another given:
            g = tidy(sp.Add(adj_sym[eq.name], *[c for _, c, _ in contributions[eq.name]]))   # every path
        elif eq.name in contributions or eq.name in seeds:
            g = adj_sym[eq.name]
        else:
            continue
        for leaf, (c, labels) in pull_back(eq.expr, g, nodes).items():
            c = c.xreplace({eq.expr: sym[eq.name]})     # softmax(h) -> P: name what has a name
            contributions.setdefault(leaf, []).append((eq.name, c, labels))

    adjoints, steps = {}, []
    closed_of = {}
    for node, value in seeds.items():      # the output's 1 stays a 1×1 matrix where its symbol is one
        closed_of[adj_sym[node]] = sp.Identity(1) if isinstance(adj_sym[node], MatrixExpr) and value == 1 else value
    order = [e.name for e in reversed(problem.equations)] + list(reversed(problem.inputs))
    for node in order:
        if node not in contributions or node in seeds and node in problem.given.values():
            continue
        limits.check()
        parts = contributions[node]
        terms = [c for _, c, _ in parts]
        if isinstance(adj_sym[node], MatrixExpr):      # the output's seed 1 may arrive as a number
            terms = [c if isinstance(c, MatrixExpr) else c * sp.Identity(1) for c in terms]
        general = sp.Add(*terms) if len(terms) > 1 else terms[0]
        if len(parts) > 1:
            rule = f"the sum over the {len(parts)} paths into {node} (via {', '.join(p for p, _, _ in parts)})"
        else:
            rule = rule_words(parts[0][2])
        general = tidy(general)
        closed = tidy(general.xreplace(closed_of), problem.onehot_sums)
        closed_of[adj_sym[node]] = closed
        adjoints[node] = (adj_sym[node], general, closed)
        steps.append(Step(problem.adjoint_names[node], node, rule, general, closed))

    engine = Engine(problem, adjoints)
    results = tuple(q.kind.derive(engine, q) for q in problem.quantities)
    # shapes, counts and formulas ask no gradient: the adjoints are not a solution step to show
    return Derivation(problem, tuple(steps) if problem.asks_gradients else (), results, adjoints, engine.simplifier)


INTERNAL = "@"   # suffix of an adjoint kept in the parameter's shape when the problem's layout differs


def internal_symbol(problem: Problem, node: str):
    """The adjoint of `node` with the node's own shape (the engine always works in that layout)."""
    s = problem.scope.symbols[problem.adjoint_names[node]]
    shape = problem.node_shape(node)
    return s if sy.shape_of(s) == shape else sp.MatrixSymbol(str(s) + INTERNAL, *shape)


def numerator_form(problem: Problem, expr):
    """A gradient the engine holds in its node's shape, in numerator layout (transposed), written
    in the problem's own gradient names (dl/dz3@ -> dl/dz3 transposed)."""
    public = {}
    for n in {*problem.adjoint_names} & ({*problem.scope.symbols}):
        inner = internal_symbol(problem, n)
        if str(inner).endswith(INTERNAL):
            mine = problem.scope.symbols[problem.adjoint_names[n]]
            public[inner], public[inner.T] = mine.T, mine
    return expr.T.xreplace(public)


def _zero(shape):
    return sp.ZeroMatrix(*shape) if shape else sp.Integer(0)


class Engine:
    """How each kind's result is derived (kinds.Kind.derive picks one of these)."""

    def __init__(self, problem: Problem, adjoints: dict):
        self.problem, self.adjoints = problem, adjoints
        self.simplifier = Simplifier(problem)

    def dims(self, q) -> Result:
        """The asked dimensions, at the problem's values where given."""
        dims = sp.Tuple(*q.dims)
        return Result(q, dims, dims.xreplace(value_subs(self.problem)), None)

    def nothing(self, q) -> Result:
        """Not derived: the model answer is the whole solution."""
        return Result(q, sp.Symbol("prose"), sp.Symbol("prose"), None)

    def forward(self, q) -> Result:
        """A node's value in the inputs (a property quantity's node holds a model answer)."""
        expr = _forward_closed(self.problem, q.of)
        index_form = _entry(expr, sp.Symbol(q.index, integer=True)) if q.index else None
        return Result(q, expr, expr, sy.shape_of(expr), index_form)

    def jacobian(self, q) -> Result:
        """d(node)/d(node) across the chain between them (jacobian.py), in the allowed names if any."""
        J = jac.across(self.problem, q)
        expr = J.xreplace(forward_subs(self.problem, keep=set(q.allowed))) if q.allowed else \
            self.simplifier.closed_form(J)
        return Result(q, expr, J, J.shape, jac.entry(q, J))

    def adjoint(self, q) -> Result:
        problem, adjoints = self.problem, self.adjoints
        out_shape = problem.node_shape(problem.output) if problem.output in problem.scope.symbols else None
        if out_shape not in (None, (1, 1)) and not problem.given:
            jac_hint = f"ask for its Jacobian ({q.name} without kind = \"gradient\"), " if 1 in out_shape else ""
            raise UnsupportedError(f"{q.name}: {problem.output} is a {sy.show_shape(out_shape)} matrix, not a scalar, so "
                                   f"it has no gradient; {jac_hint}make the output a scalar (e.g. a loss), or give "
                                   f"the upstream gradient in [given]")
        shape = problem.node_shape(q.wrt)
        if q.wrt not in adjoints:
            return Result(q, _zero(shape), _zero(shape), shape)
        _, general, closed = adjoints[q.wrt]
        # answers are written in terms of the problem's named gradients (delta3), not expanded;
        # `keep` names the steps a sheet shows, and the result is stated in closed form
        named = _named(problem)
        kept = named | set(problem.keep)
        paths = _in_named(general, problem, adjoints, kept) if kept else closed
        expr = tidy(_in_named(general, problem, adjoints, named), problem.onehot_sums) if named else closed
        if q.allowed:                            # "you can only use x, y, W1, ...": write it that way
            expr = paths = expr.xreplace(forward_subs(problem, keep=set(q.allowed)))
        else:
            expr = self.simplifier.closed_form(expr)
            hot = tidy(expr, problem.onehot_sums) if problem.onehot else expr
            if hot != expr:                      # Y 1 = 1 for one-hot rows, seen once the sums are out
                expr = self.simplifier.closed_form(hot)
        if problem.layout == "numerator" and shape and shape != (1, 1):
            done: dict = {}                  # paths is often closed or expr: transpose each once (a deep doit)
            for e in {expr, closed, paths}:
                done[e] = numerator_form(problem, e)
            expr, closed, paths = done[expr], done[closed], done[paths]
            shape = (shape[1], shape[0])
        index_form = None
        if q.index:
            i = sp.Symbol(q.index, integer=True)
            index_form = closed[i, 0] if shape[1] == 1 else closed[0, i]
        return Result(q, expr, closed, shape, index_form, paths)


def value_subs(problem: Problem) -> dict:
    sym = problem.scope.symbols
    return {sp.Symbol(k, real=True): sp.Float(v) if v != int(v) else sp.Integer(int(v))
            for k, v in problem.values.items() if sy.shape_of(sym[k]) in (None, (1, 1))}


def _entry(expr, i):
    """Entry i of a vector expression; softmax written out as exp(z_i) / Σ_j exp(z_j)."""
    if isinstance(expr, fns.Softmax):
        z, j = expr.arg, sp.Symbol("j" if str(i) != "j" else "k", integer=True)
        n = max(z.shape, key=lambda d: d != 1)
        at = (lambda k: z[k, 0]) if z.shape[1] == 1 else (lambda k: z[0, k])
        return sp.exp(at(i)) / sp.Sum(sp.exp(at(j)), (j, 0, n - 1))
    return expr[i, 0] if expr.shape[1] == 1 else expr[0, i]


def _named(problem: Problem) -> set:
    """Gradient names an answer is written in: the problem's named deltas ([names])."""
    return {v for v in problem.adjoint_names.values()
            if v not in problem.given and not v.startswith(f"d{problem.output}/d")}


def _in_named(expr, problem: Problem, adjoints: dict, keep: set):
    """Substitute the adjoints not in `keep` (dL/dH2) until only the kept ones (delta3) remain."""
    subs = {sym: general for node, (sym, general, _) in adjoints.items() if str(sym) not in keep}
    for _ in range(len(subs) + 1):
        limits.check()
        new = expr.xreplace(subs)
        if new == expr:
            break
        expr = new
    return expr


def forward_subs(problem: Problem, keep=frozenset()) -> dict:
    """Each intermediate (except those in `keep`) -> its formula in the inputs and the kept names."""
    sym = problem.scope.symbols
    subs = {}
    for eq in problem.equations:
        if eq.name not in keep:
            subs[sym[eq.name]] = eq.expr.xreplace(subs)
    return subs


def _forward_closed(problem: Problem, name: str):
    s = problem.scope.symbols[name]
    return forward_subs(problem).get(s, s)
