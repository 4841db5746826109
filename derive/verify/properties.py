"""Grading by properties instead of equivalence: an answer is right when it has the asked properties.

Two families, both decided numerically with the tree-walking evaluator (numeric.py) over a grid,
never by eval/sympify/lambdify of the answer:

- an output activation y = f(z) asked to respect a range [low, high] (seed 000 Q4): `range`
  (every value inside, for every z), `reaches` (both ends reached or approached as z -> ±inf),
  `monotone` (never turns back), `differentiable` (continuous, and not flat almost everywhere,
  so a gradient flows);
- a construction that stops training (seed 003 4(d)): `dead` — with the answer's value for one
  input, the listed gradients are zero and stay zero through steps of gradient descent.

Bounds and answers may use the problem's other symbols (a, b); they are drawn at random with
low < high. Each failure comes back as one sentence that names the property.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from derive.engine.backprop import derive
from derive.expr import compiled
from derive.expr import functions as sy
from derive.expr.numeric import evaluate
from derive.notation.text import text
from derive.problem.kinds import Property
from derive.runtime.memo import IdMemo
from derive.runtime.secret import secret_seed
from derive.verify import descent, instances

PROPERTIES, DEFAULT_CHECKS = Property.CHECKS, Property.DEFAULT_CHECKS
SCENARIOS = 4            # draws of the other symbols (a, b)
DEAD_SCENARIOS = 12      # draws of a construction that stops training: 2^-12 for a sign that holds by chance
FAR = 1e6                # |z| where an unbounded answer must still be growing
DENSE = np.linspace(-10.0, 10.0, 4001)
GRID = np.sort(np.concatenate([-np.logspace(-4, 6, 300), [0.0], np.logspace(-4, 6, 300), DENSE]))
GRID = GRID[np.r_[True, GRID[1:] != GRID[:-1]]]      # np.unique's values, without importing numpy.ma
DEAD_STEPS = descent.DEAD_STEPS


@dataclass(frozen=True)
class PropertyResult:
    passed: bool
    failed: tuple = ()       # names of the properties that fail, in PROPERTIES order
    feedback: tuple = ()     # one sentence per failure (or one saying what holds)


def grade(problem, q, expr, derivation=None, shown: str = "") -> PropertyResult:
    """Does expr (the student's answer as SymPy, or the model answer) have q's properties?"""
    shown = shown.strip() or "the answer"
    if "dead" in q.checks:
        return _dead(problem, q, expr, derivation, shown)
    return _activation(problem, q, expr, shown)


# ---- evaluation helpers ----------------------------------------------------------------------
def _eval(e, env, fn=None):
    """e at env; `fn`: e compiled (compiled.once_or_none), where it is evaluated at many envs."""
    with np.errstate(all="ignore"):
        v = evaluate(e, dict(env), {}, {}) if fn is None else compiled.run_once(fn, dict(env), {}, {})
    return np.asarray(v, dtype=float)


def _others(problem, q) -> list:
    skip = {q.var, q.sets, q.of} | {eq.name for eq in problem.equations}
    return [n for n in problem.inputs if n not in skip]


def _scenarios(problem, q, count=SCENARIOS) -> list:
    """Values of the other symbols with low < high (at least 0.5 apart)."""
    rng = np.random.default_rng(20240)
    names = _others(problem, q)
    if names and all(n in problem.values for n in names):     # a variant gives the range in numbers
        env = {n: problem.values[n] for n in names}
        lo, hi = (_bound(b, env) for b in q.bounds) if q.bounds else (-np.inf, np.inf)
        return [(env, lo, hi)] if hi > lo else []
    out = []
    for _ in range(200):
        env = {n: float(np.round(rng.normal(scale=3.0), 3)) for n in names}
        lo, hi = (_bound(b, env) for b in q.bounds) if q.bounds else (-np.inf, np.inf)
        if hi - lo >= 0.5:
            out.append((env, lo, hi))
        if len(out) == count:
            break
    return out


def _bound(b, env) -> float:
    if b == sp.oo:
        return np.inf
    if b == -sp.oo:
        return -np.inf
    return float(_eval(b, env))


def _fmt(v: float) -> str:
    return "∞" if v == np.inf else "-∞" if v == -np.inf else f"{v:.4g}"


def _bound_text(b) -> str:
    return "∞" if b == sp.oo else "-∞" if b == -sp.oo else text(b)


def _name_value(vals: list, envs: list) -> str | None:
    """A short name (0, b - a, a, ...) for observed ends that agree with it in every scenario."""
    names = sorted(envs[0]) if envs else []
    cands = [("0", lambda e: 0.0), ("1", lambda e: 1.0), ("-1", lambda e: -1.0),
             ("∞", lambda e: np.inf), ("-∞", lambda e: -np.inf)]
    for s in names:
        cands += [(s, lambda e, s=s: e[s]), (f"-{s}", lambda e, s=s: -e[s]), (f"2{s}", lambda e, s=s: 2 * e[s])]
    for s in names:
        for t in names:
            if s != t:
                cands.append((f"{s} - {t}", lambda e, s=s, t=t: e[s] - e[t]))
                if s < t:
                    cands.append((f"{s} + {t}", lambda e, s=s, t=t: e[s] + e[t]))
    for label, f in cands:
        want = [f(e) for e in envs]
        if all((np.isinf(w) and v == w) or (np.isfinite(w) and np.isfinite(v) and abs(v - w) <= 1e-3 * (1 + abs(w)))
               for v, w in zip(vals, want)):
            return label
    return None


# ---- activations with a range ------------------------------------------------------------------
def _activation(problem, q, expr, shown) -> PropertyResult:
    scen = _scenarios(problem, q)
    if not scen:
        return PropertyResult(False, ("range",), ("no values of the other symbols give low < high; "
                                                  "check the quantity's range",))
    var = q.var
    failed, feedback = [], []
    rows = []
    for env, lo, hi in scen:
        y = _eval(expr, {**env, var: GRID})
        y = np.broadcast_to(y.reshape(-1) if y.size == GRID.size else y.reshape(-1)[:1], GRID.shape).copy()
        rows.append((env, lo, hi, y))
    # defined everywhere?
    for env, lo, hi, y in rows:
        bad = np.isnan(y)
        if bad.any():
            z = GRID[np.argmax(bad)]
            return PropertyResult(False, ("range",), (f"range: {shown} is not defined for every z "
                                                      f"(at z = {z:.3g} it has no real value)",))
    want = _interval(q.bounds)
    if "range" in q.checks:
        for env, lo, hi, y in rows:
            tol = 1e-9 * (1 + max(abs(v) for v in (lo, hi) if np.isfinite(v))) if np.isfinite([lo, hi]).any() else 0
            out = (y < lo - tol) | (y > hi + tol)
            if out.any():
                lows = [float(np.min(r[3])) for r in rows]
                highs = [float(np.max(r[3])) for r in rows]
                envs = [r[0] for r in rows]
                a, b = _name_value(lows, envs), _name_value(highs, envs)
                if a is not None and b is not None:
                    lb, rb = "(" if a == "-∞" else "[", ")" if b == "∞" else "]"
                    msg = f"{shown} stays in {lb}{a}, {b}{rb}, not {want}"
                else:
                    z = GRID[np.argmax(out)]
                    at = _relevant(env, expr, q)
                    msg = (f"{shown} leaves the range {want}: at z = {z:.3g}{' (' + at + ')' if at else ''} "
                           f"it is {_fmt(float(y[np.argmax(out)]))}")
                failed.append("range")
                feedback.append(f"range: {msg}")
                break
    if "reaches" in q.checks and "range" not in failed:
        for env, lo, hi, y in rows:
            miss = []
            for b, pick in ((lo, np.min), (hi, np.max)):
                if np.isinf(b):          # unbounded: still heading for b as z -> +inf or -inf
                    growing = False
                    for far_z in (FAR, -FAR):
                        y_far, y_mid = _at(expr, env, var, far_z), _at(expr, env, var, far_z / 1000)
                        growing |= bool((y_far == b) or (np.isfinite(y_far) and abs(y_far - y_mid) > 1.0
                                                         and np.sign(y_far - y_mid) == np.sign(b)))
                    if not growing and not (pick(y) == b):
                        miss.append(b)
                elif abs(pick(y) - b) > 1e-3 * (1 + abs(b)):
                    miss.append(b)
            if miss:
                env_s = _relevant(env, expr, q)
                ends = " and ".join(_fmt(m) for m in miss)
                failed.append("reaches")
                feedback.append(f"reaches: {shown} never reaches or approaches {ends}"
                                f"{' (at ' + env_s + ')' if env_s else ''}: part of {want} is out of reach")
                break
    dense = [(env, _eval(expr, {**env, var: DENSE}) * np.ones_like(DENSE)) for env, _, _, _ in rows]
    if "monotone" in q.checks:
        for env, y in dense:
            d = np.diff(y)
            tol = 1e-9 * (1 + np.max(np.abs(y)))
            if (d < -tol).any() and (d > tol).any():
                k = int(np.argmax(d < -tol)) if d[0] >= 0 else int(np.argmax(d > tol))
                failed.append("monotone")
                feedback.append(f"monotone: {shown} is not monotone: it turns back near z = {DENSE[k]:.3g}, "
                                "so a larger z can give a smaller output")
                break
    if "differentiable" in q.checks:
        msg = _differentiable(expr, dense, var, shown)
        if msg:
            failed.append("differentiable")
            feedback.append(f"differentiable: {msg}")
    if failed:
        return PropertyResult(False, tuple(failed), tuple(feedback))
    held = ", ".join(c for c in q.checks)
    return PropertyResult(True, (), (f"correct: {shown} has every asked property ({held}) for the range {want}",))


def _interval(bounds) -> str:
    if not bounds:
        return "ℝ"
    lo, hi = bounds
    return f"{'(' if lo == -sp.oo else '['}{_bound_text(lo)}, {_bound_text(hi)}{')' if hi == sp.oo else ']'}"


def _relevant(env, expr, q) -> str:
    """The drawn values that matter: symbols of the answer or of the range."""
    used = {str(s) for s in expr.free_symbols}
    for b in q.bounds:
        used |= {str(s) for s in getattr(b, "free_symbols", ())}
    return ", ".join(f"{k} = {v:g}" for k, v in env.items() if k in used)


def _at(expr, env, var, z) -> float:
    return float(np.asarray(_eval(expr, {**env, var: np.array([z])})).reshape(-1)[0])


def _differentiable(expr, dense, var, shown) -> str:
    """Continuous (no jump survives refining the grid) and not flat almost everywhere."""
    for env, y in dense:
        d = np.abs(np.diff(y))
        if not np.all(np.isfinite(d)):
            continue
        scale = max(float(np.max(np.abs(y))), 1e-12)
        for k in np.argsort(d)[-8:]:
            if d[k] <= 1e-9 * scale:
                continue
            sub = np.linspace(DENSE[k], DENSE[k + 1], 201)
            ys = _eval(expr, {**env, var: sub}) * np.ones_like(sub)
            if np.max(np.abs(np.diff(ys))) > 0.5 * d[k]:
                return (f"{shown} jumps near z = {0.5 * (DENSE[k] + DENSE[k + 1]):.3g}: it is not continuous "
                        "there, and a step has zero gradient everywhere else")
        moving = np.mean(d > 1e-12 * scale)
        if moving < 0.05:
            return f"{shown} is flat almost everywhere: its derivative is zero, so no gradient flows through it"
    return ""


# ---- a construction that stops training -------------------------------------------------------------
def _dead(problem, q, expr, derivation, shown) -> PropertyResult:
    if derivation is None:
        derivation = derive(problem)
    grads = {r.quantity.wrt: r for r in derivation.results if r.quantity.kind.trains}
    zero = [derivation.result(z) for z in q.zero] if q.zero else list(grads.values())
    starts, drawn, refused = [], [], None
    fn = compiled.once_or_none(expr)
    for inst in _DRAWS(problem):           # the answer's value at every draw, until one has none
        env0 = dict(inst.env)
        try:
            env0[q.sets] = float(_eval(expr, env0, fn).reshape(-1)[0])
        except Exception as e:     # noqa: BLE001 — reported as a failed property, never raised
            refused = PropertyResult(False, ("dead",), (f"dead: {shown} cannot be evaluated ({e})",))
            break
        if not np.isfinite(env0[q.sets]):
            refused = PropertyResult(False, ("dead",), (f"dead: {shown} has no finite value at "
                                                        f"{_show_env(env0, q.sets)}",))
            break
        starts.append(instances.Instance(inst.dims, env0, inst.functions))
        drawn.append(inst)
    # the gradients' closed forms read forward values only: the other adjoints are not needed
    forward_only = _READS(derivation) <= {*problem.inputs, *problem.given, q.sets, *(eq.name for eq in problem.equations)}
    for inst, outcome in zip(drawn, descent.descend(_PLANS(derivation), starts, zero, forward_only)):
        if outcome is not None:
            step, r, g = outcome
            when = "at the start" if step == 0 else f"after {step} step{'s' * (step > 1)} of gradient descent"
            return PropertyResult(False, ("dead",), (
                f"dead: with {q.sets} = {shown}, {r.quantity.name} = {g:.3g} ≠ 0 {when} "
                f"(at {_show_env(inst.env, q.sets)}): the parameter still learns",))
    if refused is not None:
        return refused
    names = ", ".join(r.quantity.name for r in zero)
    return PropertyResult(True, (), (f"correct: {names} stay zero through {DEAD_STEPS} steps of gradient descent "
                                     f"at {DEAD_SCENARIOS} random draws of the other values",))


def _draws(problem) -> tuple:
    """The draws of the other values, the same for every answer (drawn once per problem object) and
    chosen by the installation's secret: fixed public draws let an answer be fitted to them
    (b1 = x passed where all four drew x < 0)."""
    draws = [instances.instance(problem, secret_seed(31 * n + 5)) for n in range(DEAD_SCENARIOS)]
    # every other draw at ten times the scale: b1 = x - 5 is dead only while |(w1 + 1) x| < 5
    def wider(env):
        return {k: v if k in problem.onehot else v * 10.0 for k, v in env.items()}
    return tuple(d if n % 2 == 0 else instances.Instance(d.dims, wider(d.env), d.functions) for n, d in enumerate(draws))


_DRAWS = IdMemo(_draws, limit=256)


def _plan(derivation) -> descent.Plan:
    grads = {r.quantity.wrt: r for r in derivation.results if r.quantity.kind.trains}
    return descent.Plan(derivation.problem, derivation, grads)


_PLANS = IdMemo(_plan, limit=256)


def _reads(derivation) -> frozenset:
    """The names the trained parameters' closed forms read (dimensions aside)."""
    names = set()
    for r in derivation.results:
        if r.quantity.kind.trains and isinstance(r.closed, sp.Basic):
            names |= {s.name for s in r.closed.free_symbols if hasattr(s, "name")}
            names -= {c.fname for c in r.closed.atoms(sy.Fn, sy.Apply)}    # a function's name, not a value
    return frozenset(names - set(derivation.problem.scope.dims))


_READS = IdMemo(_reads, limit=256)


def _show_env(env, skip) -> str:
    return ", ".join(f"{k} = {float(np.asarray(v).reshape(-1)[0]):.3g}" for k, v in env.items()
                     if k != skip and np.size(v) == 1)
