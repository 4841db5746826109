"""Numeric instances of a problem: distinct sizes, seeded values, smooth stand-ins for abstract
functions, points kept off the kinks, and the value of every node and gradient there.

Dimensions get distinct sizes so a missing transpose cannot hide behind a square matrix; the
verification (verify.py), the checker's decision points (grading/reference.py), the property
checks and the sheets' numbers all draw their points here.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from derive.engine.backprop import INTERNAL, Derivation, internal_symbol
from derive.expr import compiled
from derive.expr import functions as sy
from derive.expr import matrix as mx
from derive.errors import ProblemSpecError, UnsupportedError
from derive.expr.matrix_ops import Op
from derive.expr.numeric import evaluate
from derive.problem.load import Problem
from derive.runtime import limits
from derive.runtime.memo import IdMemo

SIZES = ((2, 3, 5, 7, 4), (3, 4, 2, 6, 5))   # one size per dimension, in declaration order
KINK_MARGIN = 1e-3


@dataclass(frozen=True)
class Instance:
    """One numeric instantiation of a problem: sizes, values and stand-in functions."""
    dims: dict
    env: dict
    functions: dict


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
    dims = fit_sizes(problem, {d: sizes[i % len(sizes)] + (i // len(sizes)) for i, d in enumerate(problem.scope.dims)})
    functions = {f: stand_in(rng) for f in sorted(problem.scope.functions)}
    env = {}
    names = list(problem.inputs) + list(problem.given)
    for name in names:
        s = problem.scope.symbols[name]
        shape = mx.shape_of(s)
        if shape is None:
            env[name] = float(rng.normal())
        else:
            r, c = (_size(x, dims) for x in shape)
            env[name] = rng.normal(size=(r, c))
        if name in problem.positive:
            env[name] = np.abs(env[name]) + 0.1
        if name in problem.onehot:
            env[name] = _one_hot(env[name].shape, dict(problem.onehot_sums)[name], rng)
    if use_values:
        for k, v in problem.values.items():
            env[k] = v if not problem.scope.matrix_mode else np.array([[v]])
    return Instance({problem.scope.dims[d]: n for d, n in dims.items()}, env, functions)


def _size(x, dims: dict) -> int:
    """A shape entry's size: a number, a dimension's size, or an expression in the dimensions."""
    x = sp.sympify(x)
    if x.is_Integer:
        return int(x)
    if x.is_Symbol:
        return int(dims[str(x)])
    return int(x.subs({v: dims[str(v)] for v in x.free_symbols}))


def _one_hot(shape, where: str, rng):
    """One 1 in all of a vector, in each row, or in each column (Problem.onehot_sums)."""
    hot = np.zeros(shape)
    if where == "all":
        hot.flat[rng.integers(hot.size)] = 1.0
    elif where == "rows":
        hot[np.arange(shape[0]), rng.integers(shape[1], size=shape[0])] = 1.0
    else:
        hot[rng.integers(shape[0], size=shape[1]), np.arange(shape[1])] = 1.0
    return hot


def dimension_expressions(problem: Problem) -> tuple:
    """Every shape entry of the problem's operations that is an expression (conv2d's H - k + 1,
    maxpool2d's H/2): a size of each dimension must make all of them whole and positive."""
    found = {d for s in problem.scope.symbols.values() for d in getattr(s, "shape", ()) if not d.is_Atom}
    for eq in problem.equations:
        for op in eq.expr.atoms(Op):
            found.update(d for d in op.shape if isinstance(d, sp.Expr) and not d.is_Atom)
    return tuple(sorted(found, key=sp.default_sort_key))


def fit_sizes(problem: Problem, dims: dict) -> dict:
    """`dims` (name -> size), or the first distinct sizes (2..13, drawn from a generator seeded by
    `dims`) that make every dimension expression a whole positive number."""
    exprs = dimension_expressions(problem)
    symbols = problem.scope.dims

    def fits(sizes):
        subs = {symbols[d]: sp.Integer(n) for d, n in sizes.items()}
        return all((v := e.xreplace(subs)).is_Integer and v >= 1 for e in exprs)

    if not exprs or fits(dims):
        return dims
    free = sorted({str(s) for e in exprs for s in e.free_symbols})
    rng = np.random.default_rng(sorted(dims.values()))
    for _ in range(4000):
        limits.check()
        pool = np.arange(2, 14)
        drawn = rng.choice(pool, size=len(free), replace=len(free) > len(pool))
        trial = {**dims, **{d: int(n) for d, n in zip(free, drawn)}}
        if fits(trial):
            return trial
    shown = ", ".join(str(e) for e in exprs)
    raise UnsupportedError(f"no sizes of {', '.join(free)} from 2 to 13 make {shown} whole and positive; "
                           "check the strides and windows against the dimensions")


def forward(problem: Problem, inst: Instance, override: dict | None = None) -> dict:
    """Values of every node; `override` pins nodes (for derivatives at an intermediate)."""
    env = dict(inst.env)
    env.update(override or {})
    ctx = compiled.context(env, inst.dims, inst.functions)
    with np.errstate(all="ignore"):
        for eq in problem.equations:
            if override and eq.name in override:
                continue
            v = compiled.run(eq.expr, ctx)
            env[eq.name] = v if isinstance(v, np.ndarray) or not problem.scope.matrix_mode else np.array([[v]])
    return env


def near_kink(problem: Problem, inst: Instance, env: dict) -> bool:
    for eq in problem.equations:
        for call in eq.expr.atoms(sy.Fn, sy.Apply):
            if call.fname in sy.KINKS:
                arg = np.asarray(evaluate(call.args[2], env, inst.dims, inst.functions))
                if np.min(sy.KINKS[call.fname](arg)) < KINK_MARGIN:
                    return True
    return False


_KINKED: dict = {}


def has_kink(problem: Problem) -> bool:
    """Whether a forward equation applies a function with a kink (ReLU, abs, max, floor); remembered
    per problem object (the object is kept, so its id is not reused while the entry lives)."""
    hit = _KINKED.get(id(problem))
    if hit is not None and hit[0] is problem:
        return hit[1]
    kinked = (sp.Abs, sp.Max, sp.Min, sp.floor, sp.ceiling, sp.sign, sp.Heaviside)
    out = any(call.fname in sy.KINKS for eq in problem.equations for call in eq.expr.atoms(sy.Fn, sy.Apply)) \
        or any(eq.expr.atoms(*kinked) for eq in problem.equations)
    if len(_KINKED) > 256:
        _KINKED.clear()
    _KINKED[id(problem)] = (problem, out)
    return out


def scaled_point(problem: Problem, seed: int, scale: float) -> tuple[Instance, dict]:
    """A point with every input (one-hot labels aside) scaled by `scale`: a small scale puts the
    arguments of every kink, and of an answer's steep functions, close to 0 on both sides."""
    inst = instance(problem, seed, SIZES[0])
    env = {k: v if k in problem.onehot else np.asarray(v) * scale if isinstance(v, np.ndarray) else v * scale
           for k, v in inst.env.items()}
    inst = Instance(inst.dims, env, inst.functions)
    return inst, forward(problem, inst)


def point(problem: Problem, seed: int, sizes=SIZES[0]) -> tuple[Instance, dict]:
    """A random instance and its forward values, redrawn (seed + 1, ...) while near a kink."""
    for attempt in range(20):
        limits.check()
        inst = instance(problem, seed + attempt, sizes)
        env = forward(problem, inst)
        if not near_kink(problem, inst, env):
            break
    return inst, env


def given_in_node_shape(problem: Problem, gname: str, value):
    """A given upstream gradient in its node's shape: in numerator layout it is given transposed
    (backprop.internal_symbol is the engine's copy in the node's shape)."""
    value = np.asarray(value)
    return value.T if str(internal_symbol(problem, problem.given[gname])).endswith(INTERNAL) else value


def adjoint_values(derivation: Derivation, inst: Instance, env: dict) -> dict:
    """env plus the value of every gradient name, under the engine's name and the problem's
    (transposed, in numerator layout), and of every Jacobian quantity's name."""
    out = dict(env)
    p = derivation.problem
    given, adjoints, results = _ADJOINT_PLAN(derivation)
    for gname, inner in given:
        if gname in out:
            out[inner] = given_in_node_shape(p, gname, out[gname])
    ctx = compiled.context(out, inst.dims, inst.functions)
    with np.errstate(all="ignore"):
        for name, closed in adjoints:
            value = compiled.run(closed, ctx)
            out[name] = value
            if name.endswith(INTERNAL):
                out[name[:-len(INTERNAL)]] = np.asarray(value).T
        for name, closed in results:
            out[name] = compiled.run(closed, ctx)
    return out


def _adjoint_plan(derivation: Derivation) -> tuple:
    """What adjoint_values evaluates, with every name printed once per derivation."""
    p = derivation.problem
    given = []
    for gname, node in p.given.items():          # a given gradient in numerator layout: the engine works
        inner = str(internal_symbol(p, node))    # with its copy in the node's shape
        if inner.endswith(INTERNAL):
            given.append((gname, inner))
    adjoints = [(str(symbol), closed) for symbol, _, closed in derivation.adjoints.values()]
    results = [(r.quantity.name, r.closed) for r in derivation.results if r.quantity.kind.name_is_symbol]
    return given, adjoints, results


_ADJOINT_PLAN = IdMemo(_adjoint_plan, limit=256)


@dataclass(frozen=True)
class Given:
    """A problem at its given numbers: the instance, the forward values, and every gradient too."""
    inst: Instance
    env: dict
    full: dict


def at_given_values(derivation: Derivation) -> Given | None:
    """The one evaluation at the problem's own numbers (verify's values and the sheets' share it)."""
    p = derivation.problem
    if not p.values:
        return None
    inst = instance(p, 0, use_values=True)
    env = forward(p, inst)
    for e in p.equations:                    # an overflow would be "verified" inf and print as a value
        v = np.asarray(env.get(e.name, 0.0), dtype=float)
        if not np.all(np.isfinite(v)):
            raise ProblemSpecError(f"at the given values {e.name} = {e.text.split('=', 1)[-1].strip()} is not a "
                                   "finite number (it overflows or is undefined); give values where every node "
                                   "of the forward pass is finite", file=str(p.path), key="values")
    return Given(inst, env, adjoint_values(derivation, inst, env))

