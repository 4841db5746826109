"""The error hierarchy: an author's mistake, a student's mistake, a user's lookup."""
from __future__ import annotations


class DeriveError(Exception):
    """Base class of every error the library raises on purpose."""


class ProblemSpecError(DeriveError):
    """A problem file is malformed: names the file, the key and, where known, the position."""

    def __init__(self, message: str, file: str = "", key: str = "", position: int | None = None):
        self.file, self.key, self.position = file, key, position
        where = ", ".join(p for p in (file, f"key {key!r}" if key else "",
                                      f"column {position + 1}" if position is not None else "") if p)
        super().__init__(f"{where}: {message}" if where else message)


class AnswerError(DeriveError):
    """Typed text that cannot be understood; `offset` points at the place (0-based)."""

    def __init__(self, message: str, offset: int | None = None, code: str = "syntax", text: str = ""):
        self.message, self.offset, self.code, self.text = message, offset, code, text
        super().__init__(message)

    def caret(self) -> str:
        """The text with a caret under the offending place, as PrairieLearn shows it."""
        if self.offset is None or not self.text:
            return ""
        return f"{self.text}\n{' ' * self.offset}^"


class UnknownError(DeriveError):
    """An unknown problem or quantity; the message lists what exists."""


class InputError(DeriveError):
    """A batch's input file is unusable: missing, empty, no header, wrong columns."""


class Interrupted(DeriveError):
    """Grading stopped (Ctrl-C); `saved` rows are in the journal and the same command resumes."""

    def __init__(self, saved: int, total: int, journal):
        self.saved, self.total, self.journal = saved, total, journal
        super().__init__(f"interrupted: {saved:,} of {total:,} rows are saved in {journal}")
