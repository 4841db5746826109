"""What phones, word processors and pasted notes put around and inside an answer, made plain
before a lexer reads it: Unicode super- and subscripts, accents, dashes and spaces, full-width and
mathematical letters; `$…$`, `\\[…\\]`, `\\left.`, a left-hand side and trailing punctuation.

`normalise` returns the plain text and, for each of its characters, the offset in the original,
so that every message still points at the place the student typed.
"""
from __future__ import annotations

import re
import unicodedata

from derive.notation.tokens import UNICODE

SUPERSCRIPT = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ⁿⁱᵀᵃᵇᶜᵈᵉᶠᵍʰʲᵏˡᵐᵒᵖʳˢᵘᵛʷˣʸᶻᴺᴷ",
                       "0123456789+-()niTabcdefghjklmoprsuvwxyzNK"))
SUBSCRIPT = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋₍₎ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼᵣᵤᵥ", "0123456789+-()aeoxhklmnpstijruv"))
ACCENTS = {"\u0302": "hat", "\u0304": "bar", "\u0305": "bar", "\u0303": "tilde", "\u030c": "check"}
DROP = set("\u200b\u200c\u200d\u2060\ufeff\u00ad")          # zero-width characters, soft hyphen
CHARS = {"\u2212": "-", "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
         "\u2217": "*", "\u22c5": "*", "\u2022": "*", "\u00f7": "/", "\u2044": "/", "\u2215": "/",
         "\u2032": "'", "\u2019": "'", "\u2018": "'", "\u02b9": "'", "\u00b4": "'", "\u2033": "''",
         "\u2248": "=", "\u2265": ">="}
SYMBOLS = {"∂": ("d", r"\partial "), "√": ("sqrt", r"\sqrt "), "∑": ("sum", r"\sum "),   # (text, LaTeX)
           "⌊": ("floor(", r"\lfloor "), "⌋": (")", r"\rfloor ")}
_ROOT_OF = re.compile(r"\s*(?:[^\W\d_][^\W_]*(?:_\{?[^\W_]+\}?)?|\d+(?:\.\d+)?)")   # √d_k, √2: what √ takes
_WRAPPERS = ((r"$$", r"$$"), (r"$", r"$"), (r"\[", r"\]"), (r"\(", r"\)"))
_IGNORED = re.compile(r"\\displaystyle\b|\\left\s*\.|\\right\s*\.")
_SURROUNDED = re.compile(r"[$=]|\\[\[\]()]|\\left|\\right|\\displaystyle|[.,;]\s*$|^\s|\s$")
_LHS_OK = re.compile(r"[<>!=]")          # '<=', '>=', '!=', '==' are not a left-hand side


def _char(c: str, latex: bool) -> str:
    if c in DROP:
        return ""
    if c in CHARS:
        return CHARS[c]
    if c in SYMBOLS:
        return SYMBOLS[c][latex]
    if c.isspace():
        return " "
    if c.isascii():
        return c
    base = unicodedata.normalize("NFD", c)
    if len(base) == 2 and base[1] in ACCENTS and base[0].isalpha():
        return _accent(base[0], ACCENTS[base[1]], latex)
    plain = unicodedata.normalize("NFKC", c)
    return plain if plain.isascii() or len(plain) == 1 else c


def _accent(letter: str, accent: str, latex: bool) -> str:
    return f"\\{accent}{{{letter}}}" if latex else f"{letter}{accent}"


def normalise(text: str, latex: bool = False) -> tuple[str, list[int]]:
    """(plain text, offset in `text` of each of its characters and of its end)."""
    if text.isascii():                   # the common case: nothing to translate
        where = list(range(len(text) + 1))
        return _surroundings(text, where) if _SURROUNDED.search(text) else (text, where)
    out: list[str] = []
    where = []

    def put(s: str, pos: int):
        out.append(s)
        where.extend([pos] * len(s))

    i, n = 0, len(text)
    closes = []                          # where a √'s bracket closes, in `text`
    while i < n:
        while closes and closes[-1] == i:
            put(")", closes.pop())
        c = text[i]
        if c == "Σ" and (text[i + 1:i + 2] == "_" or text[i + 1:i + 2] in SUBSCRIPT):   # Σ_i, Σᵢ: a sum
            put(SYMBOLS["∑"][latex], i)
            i += 1
            continue
        root = _ROOT_OF.match(text, i + 1) if c == "√" and not latex else None
        if root:                         # √d_k is sqrt(d_k), not the name sqrtd_k
            put(" sqrt(" if out and out[-1][-1:].isalnum() else "sqrt(", i)
            closes.append(root.end())
            i += 1
            continue
        for table, mark in ((SUPERSCRIPT, "^"), (SUBSCRIPT, "_")):
            if c in table:
                j = i
                while j < n and text[j] in table:
                    j += 1
                run = "".join(table[t] for t in text[i:j])
                if mark == "^" and len(run) > 1 and run.endswith("T") and text[j - 1] == "ᵀ" and run != "-T":
                    j -= 1                                    # W²ᵀ: W² (the problem's W^2), then ᵀ
                    run = run[:-1]
                if mark == "^" and run == "T":
                    put("^T" if latex else "^T ", i)          # xᵀy: the T ends there
                elif len(run) == 1 and mark == "^":
                    put(mark + run + ("" if latex else " "), i)      # δ²x: the exponent ends there
                elif mark == "_" or latex:
                    put(mark + "{" + run + "}", i)
                else:                                         # ⁽³⁾ is ^(3), not ^((3))
                    put(mark + (run if run.startswith("(") and run.endswith(")") else "(" + run + ")") + " ", i)
                i = j
                break
        else:
            if c in ACCENTS and out and out[-1][-1:].isalpha():      # a combining accent on the letter before
                letter = out[-1][-1]
                out[-1] = out[-1][:-1]
                where.pop()
                put(_accent(letter, ACCENTS[c], latex), i - 1)
            elif c in UNICODE and not latex and not UNICODE[c].endswith("_"):   # δ³ is delta^3, which the
                # problem may name; λ (lambda_, a name no text spells) is left to the lexer
                put(UNICODE[c], i)
            else:
                put(_char(c, latex), i)
            i += 1
    while closes:
        put(")", closes.pop())
    plain = "".join(out)
    where.append(n)
    return _surroundings(plain, where)


def _cut(text: str, where: list[int], start: int, end: int) -> tuple[str, list[int]]:
    """text[start:end]; its end maps to the original end when only spaces are cut there."""
    last = where[-1] if not text[end:].strip() else where[end]
    return text[start:end], where[start:end] + [last]


def _surroundings(text: str, where: list[int]) -> tuple[str, list[int]]:
    """Strip what surrounds an answer: math delimiters, a left-hand side, final punctuation."""
    for m in reversed(list(_IGNORED.finditer(text))):
        text, where = text[:m.start()] + " " * (m.end() - m.start()) + text[m.end():], where
    changed = True
    while changed:
        changed = False
        s = text.strip()
        start = len(text) - len(text.lstrip())
        text, where = _cut(text, where, start, start + len(s))
        for left, right in _WRAPPERS:
            if len(text) > len(left) + len(right) and text.startswith(left) and text.endswith(right):
                text, where = _cut(text, where, len(left), len(text) - len(right))
                changed = True
                break
        if text[-1:] in (".", ",", ";") and not text.endswith(("..", "\\,", "\\;")):
            text, where = _cut(text, where, 0, len(text) - 1)
            changed = True
        eq = _last_top_level_equals(text)
        if eq is not None:
            text, where = _cut(text, where, eq + 1, len(text))
            changed = True
    return text, where


def _last_top_level_equals(text: str) -> int | None:
    """The offset of the last '=' outside every bracket and brace (a left-hand side ends there)."""
    depth, last = 0, None
    for k, c in enumerate(text):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "=" and depth == 0 and not _LHS_OK.match(text, k + 1) \
                and not (k and _LHS_OK.match(text, k - 1)) and text[k + 1:].strip():
            last = k
    return last
