"""The error hierarchy: an author's mistake, a student's mistake, a user's lookup, an engine limit."""
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

    def __reduce__(self):              # the worker sends it back whole: keep the parts
        return _rebuild, (type(self), str(self), self.file, self.key, self.position)


def _rebuild(cls, text, file, key, position):
    e = cls.__new__(cls)
    Exception.__init__(e, text)
    e.file, e.key, e.position = file, key, position
    return e


class Unsolvable(ProblemSpecError):
    """A served problem that cannot be solved (over the time limit, an engine limit); the message
    names the file but none of the server's folders."""


class AnswerError(DeriveError):
    """Typed text that cannot be understood; `offset` points at the place (0-based)."""

    def __init__(self, message: str, offset: int | None = None, code: str = "syntax", text: str = ""):
        self.message, self.offset, self.code, self.text = message, offset, code, text
        super().__init__(message)

    def __reduce__(self):
        return type(self), (self.message, self.offset, self.code, self.text)

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
    """Grading stopped (Ctrl-C, or SIGTERM: `terminated`); `saved` rows are in the journal and
    the same command resumes."""

    def __init__(self, saved: int, total: int, journal, terminated: bool = False):
        self.saved, self.total, self.journal, self.terminated = saved, total, journal, terminated
        super().__init__(f"interrupted: {saved:,} of {total:,} rows are saved in {journal}")


class UnsupportedError(DeriveError):
    """A limit of the engine: the message names the construct and what is supported."""


class RenderError(DeriveError):
    """A sheet could not be rendered or compiled."""


class LatexError(RenderError):
    """pdflatex failed; the message carries the relevant lines of the log."""


class HeaderError(RenderError):
    """A sheet header config file is unreadable."""


class UsageError(DeriveError, ValueError):
    """A bad argument to the library (a timeout that is not a positive number of seconds, ...)."""


class EvalError(DeriveError, ValueError):
    """A tree holds something the evaluator does not know, or a shape that does not fit."""


class ShapeError(EvalError):
    """An expression whose sizes do not work at the sizes tried (a kernel larger than its input):
    an answer that does this is wrong, whatever it computes elsewhere."""


def did_you_mean(name, known) -> str:
    """'; did you mean scalar-chain?' for a near miss among `known`, else ''."""
    import difflib
    close = difflib.get_close_matches(str(name)[:100], [k for k in known if k], n=2, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""
