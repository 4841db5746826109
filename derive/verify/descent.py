"""Gradient descent for the dead-unit property (properties._dead): from each start, DEAD_STEPS steps
on every trained parameter, watching the gradients that must stay zero.

The steps of one start depend on each other, but the starts do not: where every value is a number
and every expression the steps evaluate is entrywise (sums, products, powers and the scalar
functions, no matrix operation), all the starts take each step together, as arrays with one entry
per start. Each entry then goes through the numpy operations of the one-start loop, in the same
order, so each start's values are those the one-start loop computes; anything else (matrices, a
piecewise condition, stand-ins that differ between starts) takes the one-start loop.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from derive.expr import compiled
from derive.expr import functions as sy
from derive.expr.numeric import Evaluator
from derive.runtime import limits
from derive.runtime.memo import IdMemo
from derive.verify import instances

DEAD_STEPS, DEAD_RATE = 20, 0.1
ZERO = 1e-12                  # a gradient larger than this in magnitude is not zero

# what may be evaluated with one entry per start: the entrywise rules of compiled.py
_ENTRYWISE = frozenset({
    "Symbol", "Add", "Mul", "Pow", "exp", "log", "tanh", "cosh", "sinh", "sech", "csch", "coth", "asinh",
    "acosh", "atanh", "acoth", "floor", "ceiling", "Abs", "sign", "Min", "Max", "Heaviside", "Fn", "Apply"})


class Plan:
    """What one step evaluates: the forward equations, then each trained parameter's gradient."""

    def __init__(self, problem, derivation, grads: dict):
        self.problem, self.derivation = problem, derivation
        self.grads = grads                                  # parameter name -> its result
        self.forward = _needed(problem.equations, [r.closed for r in grads.values()])
        self.matrix_mode = problem.scope.matrix_mode
        self.entrywise: dict = {}                           # stand-ins (by identity) -> every expression is entrywise


def _needed(equations, exprs) -> list:
    """(name, expression) of the forward equations the expressions read, directly or through
    another equation, in the forward order (the loss and the nodes nothing reads are skipped)."""
    need = set().union(*(_names(e) for e in exprs))
    out = []
    for eq in reversed(equations):
        if eq.name in need:
            out.append((eq.name, eq.expr))
            need |= _names(eq.expr)
    return out[::-1]


def _names(e) -> set:
    return {s.name for s in e.free_symbols if hasattr(s, "name")} if isinstance(e, sp.Basic) else set()


def descend(plan: Plan, starts: list, zero: list, reads_forward_only: bool) -> list:
    """Per start (an Instance with the answer's value in it), in order, until the first that fails:
    None when every gradient in `zero` stays zero through DEAD_STEPS steps, else (step, result,
    magnitude) of the first that does not."""
    if starts and reads_forward_only and _together(plan, starts):
        try:
            return _batched(plan, starts, zero)
        except Exception:        # noqa: BLE001 — the one-start loop meets (and reports) the same error
            pass
    out = []
    for inst in starts:
        out.append(_one(plan, inst, zero, reads_forward_only))
        if out[-1] is not None:
            break
    return out


def _one(plan: Plan, cur, zero: list, reads_forward_only: bool):
    """The one-start loop: forward values, the gradients, the check, the step."""
    p, derivation = plan.problem, plan.derivation
    for step in range(DEAD_STEPS + 1):
        env = instances.forward(p, cur)
        full = env if reads_forward_only else instances.adjoint_values(derivation, cur, env)
        ctx = compiled.context(full, cur.dims, cur.functions)
        with np.errstate(all="ignore"):
            values = {name: np.asarray(compiled.run(r.closed, ctx), dtype=float) for name, r in plan.grads.items()}
        for r in zero:
            g = float(np.max(np.abs(values[r.quantity.wrt])))
            if g > ZERO:
                return step, r, g
        cur = instances.Instance(cur.dims, _stepped(plan, cur.env, values), cur.functions)
    return None


def _stepped(plan: Plan, env: dict, values: dict) -> dict:
    new = dict(env)
    for name in plan.grads:
        old = env[name]
        new[name] = np.asarray(old, dtype=float) - DEAD_RATE * values[name].reshape(np.shape(old))
        if np.ndim(old) == 0:
            new[name] = float(new[name])
    return new


def _batched(plan: Plan, starts: list, zero: list) -> list:
    """Every start at once, one entry each (see the module's docstring)."""
    k = len(starts)
    first = starts[0]
    env0 = {name: np.array([s.env[name] for s in starts], dtype=float) for name in first.env}
    failed: list = [None] * k
    forward = [(name, compiled.compile_expr(e)) for name, e in plan.forward]
    grads = [(name, compiled.compile_expr(r.closed)) for name, r in plan.grads.items()]
    with np.errstate(all="ignore"):
        for step in range(DEAD_STEPS + 1):
            limits.check()
            env = dict(env0)
            ctx = compiled.context(env, first.dims, first.functions)
            for name, fn in forward:
                env[name] = _entries(fn(ctx), k)
            values = {name: _entries(fn(ctx), k) for name, fn in grads}
            for r in zero:
                g = np.abs(values[r.quantity.wrt])
                moved = g > ZERO
                if not moved.any():
                    continue
                for i in np.flatnonzero(moved):
                    if failed[i] is None:
                        failed[i] = (step, r, float(g[i]))
            if failed[0] is not None:        # the first start decides: the others are not needed
                break
            env0 = {**env0, **{name: env0[name] - DEAD_RATE * values[name] for name in plan.grads}}
    out = []
    for f in failed:
        out.append(f)
        if f is not None:
            break
    return out


def _entries(v, k: int):
    """A value with one entry per start (a constant is the same for all)."""
    a = np.asarray(v, dtype=float)
    if a.shape == (k,):
        return a
    if a.shape == ():
        return np.full(k, float(a))
    raise ValueError(f"a value of shape {a.shape} among {k} starts")


def _together(plan: Plan, starts: list) -> bool:
    """Whether the starts can take their steps together: numbers only, the same sizes and stand-ins,
    and only entrywise expressions (the functions' bodies included)."""
    if plan.matrix_mode:
        return False
    first = starts[0]
    for s in starts:
        if s.dims != first.dims or s.env.keys() != first.env.keys() or s.functions.keys() != first.functions.keys() \
                or any(s.functions[f] is not first.functions[f] for f in first.functions):
            return False
        if not all(type(v) is float for v in s.env.values()):
            return False
    key = tuple(sorted((f, id(body)) for f, body in first.functions.items()))
    hit = plan.entrywise.get(key)
    if hit is None or any(a is not b for a, b in zip(hit[0], first.functions.values())):
        exprs = [e for _, e in plan.forward] + [r.closed for r in plan.grads.values()]
        ok = all(_entrywise(e, first.functions) for e in exprs)
        hit = plan.entrywise[key] = (tuple(first.functions.values()), ok)
    return hit[1]


def _entrywise(e, functions: dict, depth: int = 0) -> bool:
    if depth > 4 or not isinstance(e, sp.Basic):
        return False
    ok = _ENTRYWISE_OF(e)
    if ok is None:
        return False
    for fname, order in ok:                      # the bodies of the functions it applies
        try:
            body = _body(functions, fname, order)
        except Exception:                        # noqa: BLE001 — no body: evaluating it raises, one start at a time
            return False
        if not _entrywise(body, functions, depth + 1):
            return False
    return True


def _entrywise_of(e):
    """The (function, order) pairs e applies if every node of e is entrywise, else None."""
    calls = set()
    for node in sp.preorder_traversal(e):
        if isinstance(node, sp.Number) or isinstance(node, sp.NumberSymbol):
            continue
        name = type(node).__name__
        if name not in _ENTRYWISE and type(node) not in sy.NATIVE:
            return None
        if name in ("Fn", "Apply"):
            calls.add((node.fname, node.order))
    return frozenset(calls)


_ENTRYWISE_OF = IdMemo(_entrywise_of, limit=4096)


class _Functions:
    def __init__(self, functions):
        self.functions = functions


def _body(functions: dict, fname: str, order: int):
    return Evaluator.body(_Functions(functions), fname, order)
