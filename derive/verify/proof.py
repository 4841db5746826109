"""Numeric proof of a Derivation: each result against what its kind is checked by — central finite
differences at distinct sizes and seeded points off the kinks (points.py), the forward pass, or
its own properties; the error is relative (seed 002 §1 explains why).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive.engine.backprop import Derivation, Result
from derive.expr.numeric import evaluate, rel_error
from derive.problem.load import Problem
from derive.runtime import limits
from derive.verify.instances import (
    SIZES,
    Given,
    Instance,
    adjoint_values,
    at_given_values,
    forward,
    given_in_node_shape,
    point,
)
from derive.verify.properties import grade as grade_properties

TOLERANCE = 1e-5          # central differences in float64 on deep nets reach ~1e-6
ENTRYWISE_LIMIT = 60      # larger parameters are checked along random directions
STEP = 1e-6


@dataclass(frozen=True)
class Check:
    name: str
    verified: bool
    max_rel_error: float
    value: float | None       # the number, where the problem gives numeric inputs


def objective(problem: Problem, env: dict) -> float:
    """The differentiated scalar: the output, or Σ G ⊙ node for each given upstream gradient G."""
    if problem.given:
        return float(sum(np.sum(given_in_node_shape(problem, g, env[g]) * np.asarray(env[n]))
                         for g, n in problem.given.items()))
    return float(np.sum(env[problem.output]))


def perturbed(problem: Problem, inst: Instance, wrt: str, value) -> dict:
    """The forward pass with node `wrt` set to `value` (an input's value, or an intermediate pinned)."""
    if wrt in problem.inputs:
        return forward(problem, Instance(inst.dims, {**inst.env, wrt: value}, inst.functions))
    return forward(problem, inst, {wrt: value})


def finite_difference(problem: Problem, inst: Instance, base: dict, wrt: str, of=None):
    """Central differences of the objective (or of node `of`) with respect to node `wrt`."""
    x0 = np.array(base[wrt], dtype=float)
    flat = np.atleast_1d(x0).reshape(-1)
    outs = []
    for k in range(flat.size):
        limits.check()
        vals = []
        for sgn in (1, -1):
            x = flat.copy()
            x[k] += sgn * STEP
            env = perturbed(problem, inst, wrt, x.reshape(np.shape(x0)) if np.ndim(x0) else float(x[0]))
            vals.append(np.asarray(env[of], dtype=float).reshape(-1) if of else objective(problem, env))
        outs.append((vals[0] - vals[1]) / (2 * STEP))
    if of:
        return np.stack(outs, axis=1)                 # numerator layout: J[j, k] = ∂of_j/∂wrt_k
    return np.array(outs).reshape(np.shape(x0)) if np.ndim(x0) else float(outs[0])


def check_result(derivation: Derivation, r: Result, inst: Instance, env: dict) -> float:
    """Relative error of one result against what its kind is checked by (kinds.Kind.checked_by)."""
    return r.quantity.kind.verify(Verifier(derivation, inst, env), r)


class Verifier:
    """How each kind's result is proven at one instance (kinds.Kind.verify picks one of these)."""

    def __init__(self, derivation: Derivation, inst: Instance, env: dict):
        self.derivation, self.inst, self.env = derivation, inst, env

    def _eval(self, e, env=None):
        return evaluate(e, self.env if env is None else env, self.inst.dims, self.inst.functions)

    def dimensions(self, r) -> float:
        """Every dimension known at the given values is a positive integer."""
        ok = all(d.free_symbols or (d.is_number and d == int(d) and d > 0) for d in r.closed)
        return 0.0 if ok else float("inf")

    def own_properties(self, r) -> float:
        """The model answer must pass its own property grading."""
        p = self.derivation.problem
        return 0.0 if grade_properties(p, r.quantity, r.closed, self.derivation).passed else float("inf")

    def forward_pass(self, r) -> float:
        return rel_error(self._eval(r.closed), self.env[r.quantity.of])

    def node_finite_differences(self, r) -> float:
        """A Jacobian (either form) against central differences of the whole chain from wrt to of."""
        q = r.quantity
        want = finite_difference(self.derivation.problem, self.inst, self.env, q.wrt, of=q.of)
        return max(rel_error(self._eval(e), want) for e in {r.closed, r.expr})

    def finite_differences(self, r) -> float:
        p, q, inst, env = self.derivation.problem, r.quantity, self.inst, self.env
        full = adjoint_values(self.derivation, inst, env)
        got = [np.asarray(self._eval(e, full), dtype=float) for e in (r.closed, r.expr)]
        if p.layout == "numerator" and np.ndim(got[0]) == 2:
            got = [g.T for g in got]
        if np.size(env[q.wrt]) > ENTRYWISE_LIMIT:
            return max(directional_error(p, inst, env, q.wrt, g) for g in got)
        want = finite_difference(p, inst, env, q.wrt)
        return max(rel_error(np.reshape(g, np.shape(want)), want) for g in got)


def directional_error(problem: Problem, inst: Instance, env: dict, wrt: str, grad, count: int = 3) -> float:
    """Compare <grad, v> with the central difference along v, for a few random directions v."""
    rng = np.random.default_rng(7)
    x0 = np.asarray(env[wrt], dtype=float)
    got, want = [], []
    for _ in range(count):
        limits.check()
        v = rng.normal(size=x0.shape)
        vals = []
        for sgn in (1, -1):
            vals.append(objective(problem, perturbed(problem, inst, wrt, x0 + sgn * STEP * v)))
        want.append((vals[0] - vals[1]) / (2 * STEP))
        got.append(float(np.sum(np.reshape(grad, x0.shape) * v)))
    return rel_error(got, want)


def verify(derivation: Derivation, seeds=(1, 2), given: Given | None = None) -> tuple[Check, ...]:
    """Check every result at several sizes and points; numbers at the given values, if any
    (`given`: that evaluation, when the caller already has it)."""
    p = derivation.problem
    worst = {r.quantity.name: 0.0 for r in derivation.results}
    for n, seed in enumerate(seeds):
        inst, env = point(p, seed * 100, SIZES[n % len(SIZES)])
        for r in derivation.results:
            limits.check()
            worst[r.quantity.name] = max(worst[r.quantity.name], check_result(derivation, r, inst, env))
    values = {}
    given = given or at_given_values(derivation)
    if given is not None:
        inst = given.inst
        for r in derivation.results:
            limits.check()
            err = check_result(derivation, r, inst, given.env)
            worst[r.quantity.name] = max(worst[r.quantity.name], err)
            if not r.quantity.kind.has_value:
                continue
            v = evaluate(r.closed, given.full, inst.dims, inst.functions)
            values[r.quantity.name] = float(np.asarray(v).reshape(-1)[0]) if np.size(v) == 1 else None
    return tuple(Check(name, bool(err <= TOLERANCE), err, values.get(name))
                 for name, err in worst.items())
