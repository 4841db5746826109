"""What a check returns: CheckResult (its verdicts and diagnosis codes are the rows of verdicts.py)."""
from __future__ import annotations

import html
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
    equal for answers that mean the same, whatever their form (every right answer has the reference's);
    None for invalid answers."""

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

    # ---- Jupyter: the verdict, what was read, and the feedback ----------------------------------
    _COLOURS = {"correct": "#1a7f37", "consistent": "#9a6700", "incorrect": "#cf222e", "invalid": "#cf222e",
                "undecided": "#57606a"}

    def _lines(self) -> tuple[str, list[str]]:
        verdict = self.verdict + (f" [{', '.join(self.diagnosis)}]" if self.diagnosis else "")
        return verdict, list(self.feedback)

    def _repr_html_(self) -> str:
        verdict, feedback = self._lines()
        colour = self._COLOURS.get(self.verdict, "#57606a")
        out = [f'<div class="derive-check"><strong style="color:{colour}">{html.escape(verdict)}</strong> '
               f'&mdash; {html.escape(self.problem)}, {html.escape(self.quantity)}']
        if self.interpreted:
            out.append(f"<div>read as \\({html.escape(self.interpreted)}\\)</div>")
        elif self.offset is not None:            # where reading stopped, under the answer
            out.append(f"<pre>{html.escape(self.answer)}\n{' ' * self.offset}^</pre>")
        else:
            out.append(f"<div>answer: <code>{html.escape(self.answer)}</code></div>")
        if feedback:
            out.append("<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in feedback) + "</ul>")
        return "".join(out) + "</div>"

    def _repr_markdown_(self) -> str:
        verdict, feedback = self._lines()
        read = f"read as ${self.interpreted}$" if self.interpreted else f"answer: `{self.answer}`"
        return "\n".join([f"**{verdict}** — {self.problem}, {self.quantity}; {read}", ""] +
                         [f"- {_md(f)}" for f in feedback])


def _md(s: str) -> str:
    """Feedback is plain text: Markdown's own characters are escaped."""
    return "".join("\\" + c if c in "\\`*_[]#<>|" else c for c in s)
