"""What a check returns: CheckResult, the verdicts and the codes that make an answer invalid."""
from __future__ import annotations

from dataclasses import dataclass, field

VERDICTS = ("correct", "consistent", "incorrect", "invalid", "undecided")
CHECK_VERDICTS = tuple(v for v in VERDICTS if v != "consistent")     # of one answer checked alone
"""`consistent` only in step-level grading (grading/steps.py): wrong against the truth, right given
the student's own earlier answers; one answer checked alone is never consistent."""
INVALID_CODES = {"syntax", "unknown_symbol", "too_complex", "not_allowed"}


@dataclass(frozen=True)
class CheckResult:
    problem: str
    quantity: str
    answer: str
    verdict: str                         # correct | incorrect | invalid | undecided (| consistent in steps)
    diagnosis: tuple = ()                # codes: sign, constant_factor, transpose, shape, ...
    feedback: tuple = ()                 # one helpful sentence each
    interpreted: str = ""                # LaTeX of what was understood
    offset: int | None = None            # where in the answer the trouble is (0-based)
    fingerprint: str | None = field(default=None, compare=False)
    """A short hash of the answer's values at the fixed decision points (6 significant digits):
    equal for answers that mean the same, whatever their form; None for invalid answers."""

    @property
    def correct(self) -> bool:
        return self.verdict == "correct"

    @property
    def score(self) -> float:
        return 1.0 if self.correct else 0.0

    def to_dict(self) -> dict:
        """Exactly what `derive check --json` prints."""
        return {"problem": self.problem, "quantity": self.quantity, "answer": self.answer,
                "verdict": self.verdict, "correct": self.correct, "score": self.score,
                "diagnosis": list(self.diagnosis), "feedback": list(self.feedback),
                "interpreted": self.interpreted, "offset": self.offset}
