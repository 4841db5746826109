"""What a worker is asked to grade against: a small frozen key, and the one function that reads it."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import ProblemSpecError, UnsupportedError
from ..problem import Problem, load_file


@dataclass(frozen=True)
class ProblemKey:
    """A problem file as it is now: an edited file gets a new key, so every cache re-reads it."""
    path: str
    mtime_ns: int
    variant: int | None = None


def key_of(problem: Problem, variant: int | None = None) -> ProblemKey:
    try:
        mtime = os.stat(problem.path).st_mtime_ns
    except OSError as e:
        raise ProblemSpecError(f"cannot read: {e.strerror}", file=problem.path) from None
    return ProblemKey(problem.path, mtime, variant)


def resolve(key: ProblemKey) -> Problem:
    """The Problem a key stands for (the place where seeded variants plug in)."""
    if key.variant is not None:
        raise UnsupportedError(f"{key.path}: this problem has no variants (variant {key.variant} was asked); "
                               "check without a variant")
    return load_file(key.path)
