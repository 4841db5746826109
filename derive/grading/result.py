"""What a check returns: CheckResult (its verdicts and diagnosis codes are the rows of verdicts.py)."""
from __future__ import annotations

from dataclasses import dataclass, field



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
