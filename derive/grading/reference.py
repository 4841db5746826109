"""The reference a worker grades against: the derivation and its values at the decision points.

Three families of points: the problem's given values (for a problem that gives numbers, the
question is about those numbers); fixed points, the same for every answer (their values give the
answer's fingerprint); and secret points, drawn from a per-installation secret, so no one reading
the source can predict them (see decide.py). Every point is drawn off the kinks (verify.point).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass, field

import numpy as np

from derive.engine.backprop import Derivation, derive
from derive.expr.compiled import evaluate
from derive.grading import mutants
from derive.grading.key import ProblemKey, resolve
from derive.problem.load import Problem
from derive.runtime import diskcache, limits
from derive.runtime.memo import IdMemo
from derive.runtime.secret import secret, secret_seed
from derive.verify import instances

FIXED_SEED = 7919           # fixed point n is drawn from seed FIXED_SEED * (n + 1)
REFERENCES = 160             # problems kept derived per process: the catalogue and library are 79, and a
                             # batch cycling through more than this re-derives each one, losing its values
SECRET_POOL = 16            # secret points per problem; each answer is checked at some of them


def fingerprint(values) -> str | None:
    """A short stable hash of values rounded to 6 significant digits (NaN and ±inf as words)."""
    if not values:
        return None
    h = hashlib.sha256()
    for v in values:
        v = np.asarray(v, dtype=float)
        h.update(repr(v.shape).encode())
        flat = (v.reshape(-1) + 0.0).tolist()          # + 0.0: -0.0 is written 0, as 0.0 is
        h.update(("{:.6g}," * len(flat)).format(*flat)[:-1].encode())   # (Python floats format as numpy's)
        h.update(b";")
    return h.hexdigest()[:16]


class DecisionBasis:
    """What decide() and the diagnosis ask of what they grade against: the problem, its derivation,
    the mutants, and values at the decision points. Reference is the truth; the ECF world
    (ecf.World) is the student's own values at the same points. A subclass sets every attribute
    listed here (tests/grading/test_steps.py checks the world does)."""

    ATTRIBUTES = ("problem", "derivation", "mutants", "mutant_values")

    def point(self, family: str, n: int):
        raise NotImplementedError

    def value(self, r, family: str, n: int):
        raise NotImplementedError

    def meaning(self, r, at: tuple) -> str | None:
        """The fingerprint of r's values at the points `at` ((family, n) each): what a right answer
        means there."""
        return fingerprint([self.value(r, *point) for point in at])


@dataclass
class Reference(DecisionBasis):
    problem: Problem
    derivation: Derivation
    points: dict = field(default_factory=dict)     # ("fixed" | "secret" | "values", n) -> (Instance, env)
    values: dict = field(default_factory=dict)     # (quantity, point) -> the reference's value there
    mutants: dict = field(default_factory=dict)    # quantity -> its conforming mutants (diagnosis)
    mutant_values: dict = field(default_factory=dict)   # (mutant, points) -> its values there
    results: dict = field(default_factory=dict, repr=False, compare=False)   # quantity name -> its result
    meanings: dict = field(default_factory=dict, repr=False, compare=False)  # (quantity, points) -> fingerprint

    def point(self, family: str, n: int):
        """The n-th point of a family: (Instance, env with every gradient's value)."""
        key = (family, n)
        hit = self.points.get(key)
        if hit is None:
            hit = self.points[key] = self._kept_point(family, n)
        return hit

    def _kept_point(self, family: str, n: int):
        """A point as computed, kept in the disk cache per problem table, family, number and seed (the
        secret points' seeds come from the secret): a fresh process (a cold check, each worker of a
        batch) reads the points instead of drawing and evaluating them again."""
        p = self.problem
        seed = secret_seed(n) if family == "secret" else FIXED_SEED * (n + 1)

        def make():
            if family == "values":
                inst = instances.instance(p, 0, use_values=True)
                env = instances.forward(p, inst)
            elif family == "kink":                    # inputs scaled by 10^-n (decide.KINK_SCALES)
                inst, env = instances.scaled_point(p, seed, 10.0 ** -n)
            else:
                inst, env = instances.point(p, seed, instances.SIZES[n % len(instances.SIZES)])
            return inst, instances.adjoint_values(self.derivation, inst, env)
        table = table_digest(p)
        if table is None:
            return make()
        return diskcache.kept("reference-point", (table, family, n, seed), make, lambda kept: (
            isinstance(kept, tuple) and len(kept) == 2 and isinstance(kept[0], instances.Instance)))

    def result(self, qname: str):
        """derivation.result(qname), remembered per name."""
        hit = self.results.get(qname)
        if hit is None:
            hit = self.results[qname] = self.derivation.result(qname)
        return hit

    def value(self, r, family: str, n: int):
        key = (r.quantity.name, family, n)
        if key not in self.values:
            inst, env = self.point(family, n)
            self.values[key] = np.asarray(evaluate(r.closed, env, inst.dims, inst.functions), dtype=float)
        return self.values[key]

    def meaning(self, r, at: tuple) -> str | None:
        key = (r.quantity.name, at)
        hit = self.meanings.get(key)
        if hit is None:
            hit = self.meanings[key] = super().meaning(r, at)
        return hit


def kept_mutants(derivation, r) -> list:
    """mutants.mutants(derivation, r, with_text=False), the conforming mutants a wrong answer is
    matched against, kept in the disk cache per problem table and quantity: each worker of a batch
    made every asked quantity's mutants again."""
    table = table_digest(derivation.problem)

    def make():
        return mutants.mutants(derivation, r, with_text=False)
    return make() if table is None else diskcache.kept("mutants", (table, r.quantity.name), make,
                                                       lambda kept: isinstance(kept, list))


@functools.lru_cache(maxsize=REFERENCES)
def reference(key: ProblemKey) -> Reference:
    """Derived once per worker and problem file version (an edited file has a new key), within
    the limit on deriving a problem (the worker's prepare phase is not timed per answer)."""
    p = resolve(key)
    with limits.deadline(limits.SOLVE_TIMEOUT, key.path):
        return Reference(p, derived(p))


def derived(p: Problem) -> Derivation:
    """derive(p), kept on disk (runtime.diskcache) per problem file content and version of derive."""
    table = table_digest(p)
    if table is None:
        return derive(p)
    d = diskcache.kept("derivation", (table,), lambda: derive(p), shared={"problem": p})
    return d if d.problem is p else dataclasses.replace(d, problem=p)


def _table_digest(p: Problem) -> str | None:
    """SHA-256 of the very table p was built from, what its disk-cache entries are kept under; None
    for a variant (drawn from a seed) or a problem built without one."""
    return None if p.variant is not None or not p.data else hashlib.sha256(repr(p.data).encode()).hexdigest()


table_digest = IdMemo(_table_digest, limit=256)       # per Problem object: its table is not repr'd per point


# ---- the secret points ------------------------------------------------------------------------
def secret_points(problem: Problem, quantity: str, answer: str, count: int) -> list[int]:
    """Which secret points check this answer: drawn from the secret and the answer's text."""
    h = hashlib.sha256(b"\0".join([secret(), problem.id.encode(), quantity.encode(), answer.encode()])).digest()
    order = sorted(range(SECRET_POOL), key=lambda n: h[n % len(h)] * SECRET_POOL + n)
    return order[:count]
