"""What a worker is asked to grade against: a small frozen key, and the one function that reads it."""
from __future__ import annotations

import os
from dataclasses import dataclass

from derive import variants
from derive.errors import ProblemSpecError
from derive.problem.load import Problem, load_file


@dataclass(frozen=True)
class ProblemKey:
    """A problem file as it is now: an edited file gets a new key, so every cache re-reads it."""
    path: str
    mtime_ns: int
    variant: int | None = None


def key_of(problem: Problem, variant: int | None = None) -> ProblemKey:
    """`variant` None: the problem as given (a variant Problem keeps its own seed)."""
    variant = problem.variant if variant is None else variant
    try:
        mtime = os.stat(problem.path).st_mtime_ns
    except OSError as e:
        raise ProblemSpecError(f"cannot read: {e.strerror}", file=problem.path) from None
    return ProblemKey(problem.path, mtime, variant)


def resolve(key: ProblemKey) -> Problem:
    """The Problem a key stands for: the file's, or its seeded variant (variants.instantiate,
    cached per path, modification time and seed). A problem without [variants] is the same
    for every seed, so a roster's seed grades it as it is."""
    return variants.variant_of(load_file(key.path), key.variant)
