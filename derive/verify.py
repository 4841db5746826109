"""Numeric proof of a Derivation: central finite differences at distinct sizes and seeded points.

Dimensions get distinct sizes so a missing transpose cannot hide behind a square matrix;
abstract functions get random smooth stand-ins; points near a kink (ReLU at 0) are redrawn;
the error is relative (seed 002 §1 explains why).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from . import symbolic as sy
from .backprop import INTERNAL, Derivation, Result
from .numeric import evaluate
from .problem import Problem

SIZES = ((2, 3, 5, 7, 4), (3, 4, 2, 6, 5))   # one size per dimension, in declaration order
TOLERANCE = 1e-5          # central differences in float64 on deep nets reach ~1e-6
ENTRYWISE_LIMIT = 60      # larger parameters are checked along random directions
STEP = 1e-6
KINK_MARGIN = 1e-3


@dataclass(frozen=True)
class Check:
    name: str
    verified: bool
    max_rel_error: float
    value: float | None       # the number, where the problem gives numeric inputs


@dataclass(frozen=True)
class Instance:
    """One numeric instantiation of a problem: sizes, values and stand-in functions."""
    dims: dict
    env: dict
    functions: dict


def rel_error(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return float("inf")
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    diff = np.linalg.norm(a - b)
    return float(diff / scale) if scale > 1e-12 else float(diff)


@functools.lru_cache(maxsize=1)
def _stand_in_pool(size: int = 16) -> tuple:
    """Random smooth functions a·tanh(b·x + c/2) + d/3·x, drawn once: their derivatives are then
    computed once per process (building fresh SymPy bodies per instance cost most of verify)."""
    rng = np.random.default_rng(20261123)
    pool = []
    for _ in range(size):
        a, b, c, d = (round(float(v), 3) for v in rng.uniform(0.5, 1.5, 4) * rng.choice([-1, 1], 4))
        pool.append(sp.Float(a) * sp.tanh(sp.Float(b) * sy.x_ + sp.Float(c) / 2) + sp.Float(d) / 3 * sy.x_)
    return tuple(pool)


def stand_in(rng) -> sp.Expr:
    """A random smooth function with known derivatives, for an abstract f."""
    pool = _stand_in_pool()
    return pool[int(rng.integers(len(pool)))]


def instance(problem: Problem, seed: int = 0, sizes=SIZES[0], use_values: bool = False) -> Instance:
    rng = np.random.default_rng(seed)
    dims = {d: sizes[i % len(sizes)] + (i // len(sizes)) for i, d in enumerate(problem.scope.dims)}
    functions = {f: stand_in(rng) for f in sorted(problem.scope.functions)}
    env = {}
    names = list(problem.inputs) + list(problem.given)
    for name in names:
        s = problem.scope.symbols[name]
        shape = sy.shape_of(s)
        if shape is None:
            env[name] = float(rng.normal())
        else:
            r, c = (int(sp.sympify(x).subs({v: dims[str(v)] for v in sp.sympify(x).free_symbols})) for x in shape)
            env[name] = rng.normal(size=(r, c))
        if name in problem.positive:
            env[name] = np.abs(env[name]) + 0.1
        if name in problem.onehot:
            hot = np.zeros(env[name].shape)
            hot.flat[rng.integers(hot.size)] = 1.0
            env[name] = hot
    if use_values:
        for k, v in problem.values.items():
            env[k] = v if not problem.scope.matrix_mode else np.array([[v]])
    return Instance({problem.scope.dims[d]: n for d, n in dims.items()}, env, functions)


def forward(problem: Problem, inst: Instance, override: dict | None = None) -> dict:
    """Values of every node; `override` pins nodes (for derivatives at an intermediate)."""
    env = dict(inst.env)
    env.update(override or {})
    for eq in problem.equations:
        if override and eq.name in override:
            continue
        v = evaluate(eq.expr, env, inst.dims, inst.functions)
        env[eq.name] = v if isinstance(v, np.ndarray) or not problem.scope.matrix_mode else np.array([[v]])
    return env


def objective(problem: Problem, env: dict) -> float:
    """The differentiated scalar: the output, or Σ G ⊙ node for each given upstream gradient G."""
    if problem.given:
        return float(sum(np.sum(np.asarray(env[g]) * np.asarray(env[n])) for g, n in problem.given.items()))
    return float(np.sum(env[problem.output]))


def near_kink(problem: Problem, inst: Instance, env: dict) -> bool:
    for eq in problem.equations:
        for call in eq.expr.atoms(sy.Fn, sy.Apply):
            if call.fname in sy.KINKS:
                arg = np.asarray(evaluate(call.args[2], env, inst.dims, inst.functions))
                if np.min(np.abs(arg)) < KINK_MARGIN:
                    return True
    return False


def point(problem: Problem, seed: int, sizes=SIZES[0]) -> tuple[Instance, dict]:
    """A random instance and its forward values, redrawn (seed + 1, ...) while near a kink."""
    for attempt in range(20):
        inst = instance(problem, seed + attempt, sizes)
        env = forward(problem, inst)
        if not near_kink(problem, inst, env):
            break
    return inst, env


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


def adjoint_values(derivation: Derivation, inst: Instance, env: dict) -> dict:
    """env plus the value of every gradient name, under the engine's name and the problem's
    (transposed, in numerator layout), and of every Jacobian quantity's name."""
    p = derivation.problem
    out = dict(env)
    for node, (symbol, _, closed) in derivation.adjoints.items():
        value = evaluate(closed, env, inst.dims, inst.functions)
        out[str(symbol)] = value
        if str(symbol).endswith(INTERNAL):
            out[str(symbol)[:-len(INTERNAL)]] = np.asarray(value).T
    for r in derivation.results:
        if r.quantity.kind == "jacobian":
            out[r.quantity.name] = evaluate(r.closed, out, inst.dims, inst.functions)
    return out


def check_result(derivation: Derivation, r: Result, inst: Instance, env: dict) -> float:
    """Relative error of one result against finite differences (or the forward pass, for values)."""
    p = derivation.problem
    q = r.quantity
    if q.kind == "prose":                  # nothing to prove: shown with its model answer, not graded
        return 0.0
    if q.kind == "shape":                  # every dimension known at the given values is a positive integer
        ok = all(d.free_symbols or (d.is_number and d == int(d) and d > 0) for d in r.closed)
        return 0.0 if ok else float("inf")
    if q.kind == "property":               # the model answer must pass its own property grading
        from .properties import grade
        return 0.0 if grade(p, q, r.closed, derivation).passed else float("inf")
    if q.kind in ("value", "formula"):
        return rel_error(evaluate(r.closed, env, inst.dims, inst.functions), env[q.of])
    if q.kind == "jacobian":
        got = evaluate(r.closed, env, inst.dims, inst.functions)
        return rel_error(got, finite_difference(p, inst, env, q.wrt, of=q.of))
    full = adjoint_values(derivation, inst, env)
    got = [np.asarray(evaluate(e, full, inst.dims, inst.functions), dtype=float) for e in (r.closed, r.expr)]
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
        v = rng.normal(size=x0.shape)
        vals = []
        for sgn in (1, -1):
            vals.append(objective(problem, perturbed(problem, inst, wrt, x0 + sgn * STEP * v)))
        want.append((vals[0] - vals[1]) / (2 * STEP))
        got.append(float(np.sum(np.reshape(grad, x0.shape) * v)))
    return rel_error(got, want)


def verify(derivation: Derivation, seeds=(1, 2)) -> tuple[Check, ...]:
    """Check every result at several sizes and points; numbers at the given values, if any."""
    p = derivation.problem
    worst = {r.quantity.name: 0.0 for r in derivation.results}
    for n, seed in enumerate(seeds):
        inst, env = point(p, seed * 100, SIZES[n % len(SIZES)])
        for r in derivation.results:
            worst[r.quantity.name] = max(worst[r.quantity.name], check_result(derivation, r, inst, env))
    values = {}
    if p.values:
        inst = instance(p, 0, use_values=True)
        env = forward(p, inst)
        for r in derivation.results:
            err = check_result(derivation, r, inst, env)
            worst[r.quantity.name] = max(worst[r.quantity.name], err)
            if r.quantity.kind in ("shape", "prose", "property"):
                continue
            v = evaluate(r.closed, adjoint_values(derivation, inst, env), inst.dims, inst.functions)
            values[r.quantity.name] = float(np.asarray(v).reshape(-1)[0]) if np.size(v) == 1 else None
    return tuple(Check(name, bool(err <= TOLERANCE), err, values.get(name))
                 for name, err in worst.items())
