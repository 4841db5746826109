"""Error carried forward, in the worker: the student's own derivation as a world to check a step in.

The derivation's steps write each adjoint over named intermediates (delta3 = σ'(Z2) ⊙ (W3ᵀ delta4)).
In the student's world every named gradient they answered takes their value (their expression,
evaluated with their own earlier values), every other one is computed from its step, and a
Jacobian they answered (dz2/dz1) stands in for the op it is the Jacobian of. A step that is wrong
against the truth is `consistent` when it agrees with its step's form in that world under the
checker's own decision rule (decide.py) and some earlier answer it builds on differs from the truth;
when every earlier answer it builds on is right, the two worlds agree and it stays incorrect.
"""
from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.engine.backprop import INTERNAL, Result, internal_symbol
from derive.errors import AnswerError, EvalError, UnknownError
from derive.expr.numeric import evaluate
from derive.grading.decide import FIXED_POINTS, TOLERANCE, _value, decide, warm
from derive.grading.job import Grader
from derive.grading.key import ProblemKey
from derive.grading.read import AnswerBuilder, indices, parse_answer
from derive.grading.reference import DecisionBasis, reference
from derive.problem import kinds
from derive.problem.load import Problem, Quantity
from derive.runtime.memo import IdMemo
from derive.verify.proof import rel_error

EVAL_ERRORS = (EvalError, KeyError, ValueError, TypeError, ArithmeticError)


# ---- names: which gradients a student may define, and what each builds on --------------------
def step_node(p: Problem, derivation, name: str) -> str:
    """The node whose gradient a derivation step `name` (dL/dh1, delta3, drho/dZ2) is."""
    name = p.scope.aliases.get(name, name)
    node = {v: k for k, v in p.adjoint_names.items()}.get(name)
    if node is None or node not in derivation.adjoints:
        steps = ", ".join(s.name for s in derivation.steps)
        raise UnknownError(f"unknown quantity {name!r} for {p.id}; known: {', '.join(q.name for q in p.quantities)}"
                           + (f"; gradients of its derivation an answer may also define: {steps}" if steps else ""))
    return node


def step_result(ref, name: str) -> Result:
    """The Result of an asked quantity, or of a derivation step the problem does not ask."""
    p, d = ref.problem, ref.derivation
    if any(name == q.name for q in p.quantities):
        return d.result(name)
    node = step_node(p, d, name)
    _, general, closed = d.adjoints[node]
    q = Quantity(p.adjoint_names[node], kinds.GRADIENT, p.output, node)
    shape = p.node_shape(node)
    if p.layout == "numerator" and shape and shape != (1, 1):
        public = {internal_symbol(p, n): p.scope.symbols[p.adjoint_names[n]].T for n in d.adjoints
                  if str(internal_symbol(p, n)).endswith(INTERNAL)}
        return Result(q, general.T.xreplace(public), closed.T.xreplace(public), (shape[1], shape[0]))
    return Result(q, general, closed, shape)


def node_of(p: Problem, q) -> str | None:
    """The node a quantity is the gradient at, if it is a whole gradient (not an entry of one)."""
    return q.wrt if q.kind == kinds.GRADIENT and not q.index else None


def jacobian_for(p: Problem, jacobians: dict, node: str):
    """The answered Jacobian dA/dB that stands in for the only equation using node B, if any."""
    users = [e for e in p.equations if p.scope.symbols[node] in _free(e.expr)]
    if len(users) != 1:
        return None
    return next((q for q in jacobians if q.wrt == node and q.of == users[0].name), None)


def inputs(p: Problem, derivation, node: str, jacobians=()) -> list:
    """What a step builds on: the adjoints in its form (or the upstream adjoint and the Jacobian)."""
    if node not in derivation.adjoints:          # no path to the output: the gradient is zero
        return []
    j = jacobian_for(p, {q: None for q in jacobians}, node)
    if j is not None:
        return [j.of, j.name]
    _, general, _ = derivation.adjoints[node]
    named = _adjoint_names(p, derivation)
    return [named[s] for s in _symbol_names(general) if s in named]


def _adjoint_names(p: Problem, derivation) -> dict:
    """Internal adjoint symbol's name -> its node: a batch asks it for every row of a derivation."""
    if derivation.problem is not p:
        return _names_of(p, derivation)
    return _NODE_OF_NAME(derivation)


def _names_of(p: Problem, derivation) -> dict:
    return {str(internal_symbol(p, n)): n for n in derivation.adjoints}


_NODE_OF_NAME = IdMemo(lambda derivation: _names_of(derivation.problem, derivation), limit=256)   # read only
_free = IdMemo(lambda e: e.free_symbols, limit=20_000)        # an equation's or general form's symbols
_symbol_names = IdMemo(lambda e: [str(s) for s in _free(e)], limit=20_000)   # ... by name


def builds_on(p: Problem, derivation, node: str, answered, jacobians=()) -> list:
    """The nearest answered steps (nodes or Jacobian names) that a step builds on."""
    out, seen, todo = [], set(), list(inputs(p, derivation, node, jacobians))
    while todo:
        n = todo.pop(0)
        if n in seen:
            continue
        seen.add(n)
        if n in answered or n in {q.name for q in jacobians}:
            out.append(n)
        elif n in derivation.adjoints:
            todo.extend(inputs(p, derivation, n, jacobians))
    return out


def ancestors(p: Problem, derivation, node: str) -> set:
    """Every adjoint a step builds on, directly or through other steps."""
    out, todo = set(), list(inputs(p, derivation, node))
    while todo:
        n = todo.pop()
        if n not in out and n in derivation.adjoints:
            out.add(n)
            todo.extend(inputs(p, derivation, n))
    return out


# ---- the student's world ------------------------------------------------------------------------
class Answer:
    def __init__(self, name, expr, reductions):
        self.name, self.expr, self.reductions = name, expr, reductions

    def value(self, inst, env):
        try:
            return _value(self.expr, inst, env, self.reductions)
        except EVAL_ERRORS:
            return None


class World(DecisionBasis):
    """The student's world for decide(): the reference's points, the student's values of the gradients."""

    def __init__(self, ref, answered: dict, jacobians: dict):
        self.ref, self.problem, self.derivation = ref, ref.problem, ref.derivation
        self.answered, self.jacobians = answered, jacobians      # node -> Answer; Quantity -> Answer
        self.walked: dict = {}
        self.differs: dict = {}          # answered node or Jacobian name -> its value is not the truth
        self.mutants = ref.mutants       # the reference's mutants, valued afresh at this world's points
        self.mutant_values: dict = {}

    def point(self, family: str, n: int):
        inst, env, _ = self._walk(family, n)
        return inst, env

    def value(self, r, family: str, n: int):
        _, env, refs = self._walk(family, n)
        v = np.asarray(refs[r.quantity.wrt], dtype=float)
        return v.T if self._transposed(r.quantity.wrt) else v

    def _transposed(self, node) -> bool:
        return str(internal_symbol(self.problem, node)).endswith(INTERNAL)

    def _note(self, name, mine, truth):
        if np.all(np.isfinite(truth)):
            self.differs[name] = self.differs.get(name, False) or rel_error(mine, truth) > TOLERANCE

    def _walk(self, family: str, n: int):
        if (family, n) in self.walked:
            return self.walked[(family, n)]
        p, d = self.problem, self.derivation
        inst, truth = self.ref.point(family, n)
        env, refs = dict(truth), {}
        for q, a in self.jacobians.items():              # of forward values only
            v = a.value(inst, env)
            if v is not None and v.shape == np.shape(truth[q.name]):
                env[q.name] = v
                self._note(q.name, v, truth[q.name])
        for node, (sym, general, _) in d.adjoints.items():
            j = jacobian_for(p, self.jacobians, node)
            try:
                if j is not None:
                    up = np.asarray(env[str(internal_symbol(p, j.of))], dtype=float)
                    b = np.asarray(env[j.name], dtype=float).T @ up.reshape(-1, 1)
                    b = b.reshape(np.shape(truth[str(sym)]))
                else:
                    b = np.asarray(evaluate(general, env, inst.dims, inst.functions), dtype=float)
            except EVAL_ERRORS:
                b = np.asarray(truth[str(sym)], dtype=float)
            refs[node] = b
            mine, a = b, self.answered.get(node)
            v = a.value(inst, env) if a is not None else None
            if v is not None:
                v = v.T if self._transposed(node) else v
                if v.shape == b.shape or (v.size == 1 and b.size == 1):
                    mine = v.reshape(b.shape)
                    self._note(node, mine, np.asarray(truth[str(sym)], dtype=float))
            env[str(sym)] = mine if mine.shape else float(mine)
            if self._transposed(node):
                env[str(sym)[:-len(INTERNAL)]] = mine.T
        self.walked[(family, n)] = (inst, env, refs)
        return self.walked[(family, n)]


# ---- the jobs -------------------------------------------------------------------------------------
def step_prepare(key: ProblemKey, name: str) -> None:
    ref = reference(key)
    warm(ref, step_result(ref, name))


def step_job(key: ProblemKey, name: str, answer: str, fmt: str, reveal: bool = False) -> dict:
    """One step against the truth (as grading.job.job, for steps the problem does not ask too)."""
    ref = reference(key)
    r = step_result(ref, name)
    return r.quantity.kind.grade(Grader(ref, r, answer, fmt, reveal or ref.problem.reveal))


def ecf_prepare(key: ProblemKey) -> None:
    reference(key)


def ecf_job(key: ProblemKey, entries: tuple, fmt: str) -> dict:
    """entries: (name, answer, verdict against the truth). Returns name -> {"follows": [...],
    "consistent": bool | None (None: not tried), "diagnosis", "feedback"} for every gradient
    step, `follows` naming the earlier answers it builds on whose values differ from the truth."""
    ref = reference(key)
    p, d = ref.problem, ref.derivation
    answered, jacobians, results, built = {}, {}, {}, {}
    for name, answer, verdict in entries:
        if verdict == "invalid":
            continue
        r = step_result(ref, name)
        q = r.quantity
        node = node_of(p, q)
        if node is None and q.kind != kinds.JACOBIAN or node is not None and node not in d.adjoints:
            continue
        try:
            tree = parse_answer(p, answer, fmt)
            builder = AnswerBuilder(p.scope, answer, indices(q),
                                    r.closed.shape[0] if isinstance(r.closed, MatrixExpr) else None)
            expr = builder.build(tree)
        except AnswerError:
            continue
        if not isinstance(expr, (sp.Basic, int, float)):
            continue
        a = Answer(name, expr, builder.reductions)
        if node is None:
            jacobians[q] = a
        else:
            answered[node], results[node] = a, r
            built[node] = (answer, tree, verdict)
    world = World(ref, answered, jacobians)
    for k in range(FIXED_POINTS):           # which answers differ from the truth: at the fixed points
        world.point("fixed", k)
    if p.values:
        world.point("values", 0)
    label = {**{n: results[n].quantity.name for n in answered}, **{q.name: q.name for q in jacobians}}
    out = {}
    for node, r in results.items():
        answer, tree, verdict = built[node]
        follows = [label[n] for n in builds_on(p, d, node, answered, tuple(jacobians))
                   if world.differs.get(n)]
        item = {"follows": follows, "consistent": None, "diagnosis": [], "feedback": []}
        if verdict == "incorrect" and follows:
            a = answered[node]
            v, diagnosis, feedback, _ = decide(world, r, a.expr, answer, tree, (), a.reductions)
            item.update(consistent=v == "correct", diagnosis=list(diagnosis), feedback=list(feedback))
        out[r.quantity.name] = item
    return out
