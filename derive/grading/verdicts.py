"""The verdicts a check gives and the diagnosis codes it names: one row each, read by the checker,
the command line, the batch outputs and the class summary."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    name: str
    meaning: str
    alone: bool                 # one answer checked alone can get it (`consistent` needs earlier steps)
    always_listed: bool         # the class summary shows its column even when no row has it


VERDICT_TABLE = (
    Verdict("correct", "right", True, True),
    Verdict("consistent", "wrong against the truth, right given the student's own earlier answers "
            "(step-level grading only)", False, False),
    Verdict("incorrect", "wrong", True, True),
    Verdict("invalid", "not gradable as typed: a syntax error, an unknown or disallowed name, too complex",
            True, True),
    Verdict("undecided", "the checker could not decide in time; never counted as wrong", True, True),
)
VERDICTS = tuple(v.name for v in VERDICT_TABLE)
CHECK_VERDICTS = tuple(v.name for v in VERDICT_TABLE if v.alone)


def summary_verdicts(present) -> tuple:
    """The verdict columns of a class summary: the always-listed ones, then any other present."""
    listed = tuple(v.name for v in VERDICT_TABLE if v.always_listed)
    return listed + tuple(v for v in present if v not in listed)


@dataclass(frozen=True)
class Diagnosis:
    code: str
    meaning: str
    invalid: bool               # the answer cannot be graded as typed (verdict `invalid`)


DIAGNOSIS_TABLE = (
    Diagnosis("sign", "the sign is wrong (in the whole answer or one term)", False),
    Diagnosis("constant_factor", "off by a constant factor", False),
    Diagnosis("transpose", "the transpose of the right answer", False),
    Diagnosis("layout", "right in the other layout convention (numerator vs denominator)", False),
    Diagnosis("shape", "the answer's shape is not the quantity's", False),
    Diagnosis("missing_term", "a term (one path of the chain rule) is missing", False),
    Diagnosis("missing_factor", "a factor of the chain is missing", False),
    Diagnosis("extra_factor", "a factor too many", False),
    Diagnosis("syntax", "the answer cannot be read", True),
    Diagnosis("unknown_symbol", "a name the problem does not define", True),
    Diagnosis("not_allowed", "a name the problem does not allow in this answer", True),
    Diagnosis("too_complex", "the answer is too long, too deep or too large to check", True),
    Diagnosis("timeout", "the check ran out of time", False),
)
DIAGNOSES = {d.code: d for d in DIAGNOSIS_TABLE}
INVALID_CODES = frozenset(d.code for d in DIAGNOSIS_TABLE if d.invalid)
