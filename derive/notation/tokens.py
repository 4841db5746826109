"""Tokens: what both lexers produce (plain text in mathparse.py, LaTeX in latex.py) and what they share —
the Unicode letters, number literals, one-character operators and the matching of a problem's
multi-character names (dL/dh3, P(y=i))."""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Token:
    kind: str          # num name op ( ) , T end, and sum max min (value: the index)
    value: str
    pos: int
    primes: int = 0


UNICODE = {"σ": "sigma", "δ": "delta", "ρ": "rho", "β": "beta", "γ": "gamma", "μ": "mu",
           "ε": "eps", "ϵ": "eps", "η": "eta", "θ": "theta", "λ": "lambda_", "α": "alpha", "τ": "tau",
           "φ": "phi", "ϕ": "phi", "ψ": "psi", "ω": "omega", "ξ": "xi", "ζ": "zeta", "ν": "nu",
           "κ": "kappa", "π": "pi", "χ": "chi", "ℓ": "l"}
MAX_LENGTH = 2000          # characters in one answer
_TRANSPOSED_ONE = re.compile(r"\s*(?:\^\s*\{?\s*(?:T|\\top|\\intercal)\s*\}?(?![A-Za-z0-9])|\.T(?![A-Za-z0-9])|')")
ONES = "1"                 # Name id prefix of the ones-vector \\mathbf{1}_N (no name starts with a digit)
# 6.2e-1 and 1E3 are numbers; 2e, 2e^x and e^{-x} keep Euler's e (digits must follow the e)
NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+(?![.\w]))?")
_PART = r"[A-Za-z][A-Za-z0-9]*(?:_\{?[A-Za-z0-9]+\}?)?(?:\^\{?\(?[A-Za-z0-9]+\)?\}?)?"
DERIVATIVE = re.compile(rf"d({_PART})/d({_PART})(?![A-Za-z0-9])")    # dl/dW^(1), written as text
OPERATORS = {"⊙": "hadamard", "∘": "hadamard", "⊘": "/", "·": "*", "×": "*", "−": "-", "+": "+", "-": "-", "*": "*",
             "/": "/", ">": ">", "=": "="}


# symbols (and LaTeX commands) students write that an answer does not use, with what to write instead
UNREAD = {"⊗": "write an outer product of column vectors as a b^T (numpy: a @ b.T)",
          "∇": "write a gradient by its name, as dL/dW", "≈": "an answer is one expression, without ≈",
          "∈": "an answer is the expression alone: leave out ∈ ℝ^{…} (the checker knows its shape)",
          ";": "write a node by its name (f, not f(x; θ))"}
UNREAD |= {"otimes": UNREAD["⊗"], "nabla": UNREAD["∇"], "approx": UNREAD["≈"], "in": UNREAD["∈"]}


def list_in_brackets(pos: int, name: str | None) -> str:
    """What the parser says of a bracket holding a list at `pos`, after `name` (no function) if any."""
    which = f"{name} is not a function that an answer may call, and a" if name else "a"
    return (f"{which} bracket holding a list, as at column {pos + 1}, is not understood here (a tuple or a "
            "shape such as (3, 3)); write the expression itself, e.g. a product with a ones-vector for a "
            "matrix of ones")


def unread(symbol: str) -> str:
    """'; what to write instead' for a symbol in UNREAD, else ''."""
    return f"; {UNREAD[symbol]}" if symbol in UNREAD else ""


_LATEX_CALL = re.compile(r"(?<![A-Za-z])(\\(?:mathrm|operatorname|text)\s*\{\s*)?\\?([A-Za-z]+)(?(1)\s*\})\s*"
                         r"\(([^()]{1,100})\)")       # f(\mathbf{x}; \theta), \mathrm{RMS}(a)
_LATEX_WRAP = re.compile(r"\\(?:mathbf|boldsymbol|bm|vec|mathrm|mathit)\s*\{([^{}]*)\}|\\([A-Za-z]+)|[\s{}]")


class KnownNames(dict):
    """A problem's written forms -> canonical names, matched longest first."""

    def __init__(self, names: dict[str, str] | None):
        super().__init__(names or {})
        self.by_first: dict[str, list] = {}           # first character -> its forms, longest first
        self.loose: dict[str, list] = {}              # ... with brackets or '=': (form, spaced pattern)
        for k in sorted(self, key=len, reverse=True):
            self.by_first.setdefault(k[:1], []).append(k)
            if any(c in k for c in "(=,;") and not k.startswith(("(", "=", ",", ";")):    # P(y=i) as P(y = i)
                spaced = "".join(rf"\s*{re.escape(c)}\s*" if c in "()=,;" else re.escape(c) for c in k)
                spaced = spaced[:-3] if spaced.endswith(r"\s*") else spaced
                self.loose.setdefault(k[:1], []).append((k, re.compile(spaced)))

    @staticmethod
    def of(names: dict[str, str] | None) -> "KnownNames":
        """names as KnownNames: itself where it is one already (a caller may keep one per problem)."""
        return names if isinstance(names, KnownNames) else KnownNames(names)

    def match(self, text: str, i: int) -> tuple[str, int] | None:
        """(written form, where it ends) for the form at text[i] (`at`), also where the student put
        spaces inside its brackets or around its '=' (P(y = i) for the problem's P(y=i))."""
        k = self.at(text, i)
        if k:
            return k, i + len(k)
        for k, spaced in self.loose.get(text[i:i + 1], ()):
            m = spaced.match(text, i)
            if m and not (k[-1].isalnum() and text[m.end():m.end() + 1].isalnum()):
                return k, m.end()
        return None

    def calls_in_latex(self, text: str) -> str:
        """LaTeX text with each written form that is a call, such as f(x; θ) written
        f(\\mathbf{x}; \\boldsymbol{\\theta}), replaced by the name it stands for, padded with
        spaces so that every later character keeps its column."""
        def one(m):
            inner = m.group(3)
            for _ in range(3):                  # \boldsymbol{\theta}: the wrapper, then the command
                inner = _LATEX_WRAP.sub(lambda w: w.group(1) or w.group(2) or "", inner)
            name = self.get(f"{m.group(2)}({inner})")     # (no spaces left to match loosely: inner has none)
            return name.ljust(len(m.group(0))) if name and re.fullmatch(r"[A-Za-z]\w*", name) else m.group(0)
        return _LATEX_CALL.sub(one, text) if self.loose else text

    def at(self, text: str, i: int) -> str | None:
        """The written form that starts at text[i] and does not end inside a longer word, if any."""
        for k in self.by_first.get(text[i:i + 1], ()):
            if text.startswith(k, i):
                after = text[i + len(k):i + len(k) + 1]
                return None if k[-1].isalnum() and after.isalnum() else k
        return None


def canonical_name(name: str, names: dict) -> str:
    """A name the problem spells another way (W^{(1)}, Z^1, hat{y}) as the problem's own (W1, Z1, yhat)."""
    flat = name.replace("{", "").replace("}", "")
    bare = flat.replace("(", "").replace(")", "")
    for k in (name, flat, bare, re.sub(r"\^(\w+)$", r"^(\1)", bare)):
        if k in names:
            return names[k]
    return re.sub(r"_(\d+)$", r"\1", flat)


def transposed_one(text: str, end: int, tokens: list) -> bool:
    """Whether the 1 just before text[end] is the ones-vector transposed (1^T X, 1ᵀ X, 1.T @ X,
    1' * X: a number is never transposed), not an exponent (x^1^T is x transposed)."""
    return bool(_TRANSPOSED_ONE.match(text, end)) and not (tokens and tokens[-1].value in ("^", "^∘"))
