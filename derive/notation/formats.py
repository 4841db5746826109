"""The table of answer formats: the notations a student may write in, each with the signs that
detect it. The CLI's --format, the web API's `format` and the lexers all read this one table."""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str
    lexer: str                   # "latex" or "text": the token stream it is read into
    summary: str
    signs: re.Pattern | None     # auto-detection: any match means this format (None: never detected)


FORMATS = (
    Format("auto", "", "whichever of the formats below the answer looks like", None),
    Format("text", "text", "plain text: dL/dh3 f3'(a3) w3, W2^T delta3 ⊙ sigma'(Z1)", None),
    Format("latex", "latex", r"LaTeX: \frac{\partial L}{\partial W} = \delta x^\top (a backslash or a brace)",
           re.compile(r"[\\{}]")),
    Format("numpy", "text", "numpy / PyTorch: delta @ x.T, np.sum(g, axis=0), a * b entrywise, x**2",
           re.compile(r"@|\b(?:np|numpy|torch)\s*\.\s*[A-Za-z]|\b(?:axis|dim|keepdims)\s*=")),
    Format("matlab", "text", "Matlab / Octave: W' * d .* s, exp(-z) ./ (1 + exp(-z)).^2, sum(X, 1) (dims from 1)",
           re.compile(r"\.[*/^]|[)\]]'")),
)
BY_NAME = {f.name: f for f in FORMATS}
NAMES = tuple(BY_NAME)


def detect(text: str) -> str:
    """The first format whose signs the text shows; plain text when none does."""
    return next((f.name for f in FORMATS if f.signs is not None and f.signs.search(text)), "text")


def help_text() -> str:
    """One line per format, for --help and the API's error message."""
    return "how to read the answer; " + "; ".join(f"{f.name}: {f.summary}" for f in FORMATS)
