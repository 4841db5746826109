"""Why a result may fail its numeric proof: a likely cause, named from the problem and the error,
for the `NOT verified` lines of `derive validate`."""
from __future__ import annotations

import math

import numpy as np

from derive.errors import DeriveError
from derive.expr import functions as fns
from derive.expr.numeric import evaluate
from derive.verify.instances import KINK_MARGIN, at_given_values


def likely_cause(derivation, check) -> str:
    """One sentence: the likeliest reason `check` failed, and what to change."""
    p = derivation.problem
    err = check.max_rel_error
    calls = {c for e in p.equations for c in e.expr.atoms(fns.Fn, fns.Apply)}
    if not math.isfinite(err):
        return ("the values overflow or are undefined at the sample points (the log or sqrt of a negative "
                "number, exp of a large one): list the symbols that must be positive in `positive`")
    at_kink = _kink_at_given_values(derivation, calls)
    if at_kink:
        return (f"at the given values the argument of {at_kink} sits on its kink, where the derivative is "
                "one-sided: choose values off it")
    jumps = sorted({c.fname for c in calls if c.fname in ("floor", "ceil", "sign")})
    if jumps:
        return (f"{', '.join(jumps)} jumps: its derivative is 0 where it is defined, and finite differences "
                "across a jump are not")
    if abs(err - 2) < 0.05:
        return "the result has the opposite sign of the finite differences"
    if abs(err - 1) < 0.05:
        return ("the result is zero or misses most of the gradient: a path into the node is missing "
                "(a given gradient that is not the whole gradient at its node?)")
    if err < 1e-2:
        return ("the result is close: large values or a steep function cost finite differences their "
                "precision; try smaller given values")
    return ("a part of the result is wrong or missing (a path, a factor): compare the backward steps of "
            "`derive solve` with a hand derivation")


def _kink_at_given_values(derivation, calls) -> str:
    kinked = [c for c in calls if c.fname in fns.KINKS]
    if not kinked or not derivation.problem.values:
        return ""
    given = at_given_values(derivation)
    if given is None:
        return ""
    for c in kinked:
        try:
            arg = np.asarray(evaluate(c.args[2], given.env, given.inst.dims, given.inst.functions), dtype=float)
        except (DeriveError, ArithmeticError, ValueError):     # a hint only: no value, no kink
            continue
        if np.min(fns.KINKS[c.fname](arg)) < KINK_MARGIN:
            return c.fname
    return ""
