"""The two lexers' front: plain text (here) and LaTeX (latex.py) into the same Token stream,
bounded in length before anything reads the text."""
from __future__ import annotations

import re

from derive.errors import AnswerError
from derive.notation.latex_lexer import lex_latex
from derive.notation.tokens import MAX_LENGTH, ONES, OPERATORS, KnownNames, Token
from derive.notation.tokens import NUMBER as _NUMBER
from derive.notation.tokens import UNICODE as _UNICODE

_OPS = {"**": "^", ".*": "hadamard", "^∘": "^∘", "^": "^", **OPERATORS}      # the text lexer's, longest first
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_\{?[A-Za-z0-9]+\}?)?")
_ENTRY = re.compile(r"_\{?([a-z](?:,?[a-z]){0,2})\}?(?![A-Za-z0-9])")   # dL/dy_kl: an entry


def lex_text(text: str, names: dict[str, str] | None = None) -> list[Token]:
    """Plain-text tokens. `names` maps multi-character names (`dL/dh3`, `P(y=i)`) to canonical ids."""
    known_names = KnownNames(names)
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        known = known_names.at(text, i)
        if known:
            end = i + len(known)
            entry = _ENTRY.match(text, end)             # dL/dy_kl: an entry of a named gradient
            name = known_names[known] + ("_" + entry.group(1).replace(",", "") if entry else "")
            i = _name_token(tokens, name, text, i, entry.end() if entry else end)
            continue
        if text.startswith(".T", i) and tokens and tokens[-1].kind in ("name", ")", "T", "num"):
            tokens.append(Token("T", ".T", i))
            i += 2
            continue
        two = text[i:i + 2]
        if two in _OPS:
            tokens.append(Token("op", _OPS[two], i))
            i += 2
            continue
        if c in _OPS:
            tokens.append(Token("op", _OPS[c], i))
            i += 1
            continue
        if c in "(),":
            tokens.append(Token(c, c, i))
            i += 1
            continue
        if c in "[]":
            tokens.append(Token("(" if c == "[" else ")", c, i))
            i += 1
            continue
        if c == "²":
            tokens += [Token("op", "^", i), Token("num", "2", i)]
            i += 1
            continue
        if c == "'" :
            raise AnswerError("a prime (') must follow a function name, as in f3' or sigma'(Z2)", i, text=text)
        m = _NUMBER.match(text, i)
        if m:
            ones = re.compile(r"1_\{?([A-Za-z0-9]+)\}?").match(text, i)
            if ones and m.group() == "1":                # 1_N: the ones-vector
                tokens.append(Token("name", f"{ONES}_{ones.group(1)}", i))
                i = ones.end()
                continue
            tokens.append(Token("num", m.group(), i))
            i = m.end()
            continue
        if c in _UNICODE:
            j = i + 1
            while j < n and (text[j].isalnum() and text[j].isascii()):
                j += 1
            m = re.compile(r"_\{?[A-Za-z0-9]+\}?").match(text, j)
            if m:                                       # δ_ij, σ_2
                j = m.end()
            i = _name_token(tokens, _UNICODE[c] + text[i + 1:j], text, i, j)
            continue
        m = _IDENT.match(text, i)
        if m:
            big = re.fullmatch(r"(sum|max|min)_\{?([a-z])\}?", m.group())
            if big and m.group() not in names:          # sum_k z_k, max_k z_k
                tokens.append(Token(big.group(1), big.group(2), i))
                i = m.end()
                continue
            i = _name_token(tokens, m.group(), text, i, m.end())
            continue
        raise AnswerError(f"unexpected character {c!r} at column {i + 1}", i, text=text)
    tokens.append(Token("end", "", n))
    return tokens


def _name_token(tokens: list[Token], name: str, text: str, start: int, i: int) -> int:
    """Append a name token, absorbing primes and a trailing `_3` (so `f'_3` reads as f3')."""
    primes = 0
    while i < len(text) and text[i] == "'":
        primes, i = primes + 1, i + 1
    if primes:
        m = re.compile(r"_\{?([A-Za-z0-9]+)\}?").match(text, i)
        if m:
            name, i = name + m.group(1), m.end()
    tokens.append(Token("name", name.replace("{", "").replace("}", ""), start, primes))
    return i


# ---- the parser -------------------------------------------------------------------------
def detect_format(text: str) -> str:
    """A backslash or a brace means LaTeX."""
    return "latex" if ("\\" in text or "{" in text) else "text"


def tokenize(text: str, fmt: str = "auto", names: dict[str, str] | None = None,
             max_length: int = MAX_LENGTH) -> list[Token]:
    """Bounded lexing, plain text or LaTeX (auto: LaTeX when there is a backslash or a brace)."""
    if not isinstance(text, str):
        raise AnswerError("the answer must be text")
    if len(text) > max_length:
        raise AnswerError(f"the answer is {len(text)} characters long; the limit is {max_length}",
                          max_length, code="too_complex")
    if fmt == "auto":
        fmt = detect_format(text)
    if fmt == "latex":
        tokens = lex_latex(text, names)
    elif fmt == "text":
        tokens = lex_text(text, names)
    else:
        raise AnswerError(f"unknown format {fmt!r}; use auto, text or latex")
    return tokens
