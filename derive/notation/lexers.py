"""The lexers' front: normalise what surrounds and decorates the answer (normalise.py), detect its
format (formats.py), and read plain text, numpy and Matlab notation (here) or LaTeX (latex_lexer.py)
into the same Token stream, bounded in length before anything reads the text."""
from __future__ import annotations

import re
from derive.errors import AnswerError
from derive.expr.functions import PREFIXED
from derive.notation import formats
from derive.notation.latex_lexer import lex_latex
from derive.notation.normalise import normalise
from derive.notation.tokens import (DERIVATIVE, MAX_LENGTH, ONES, OPERATORS, KnownNames, Token, canonical_name,
                                    transposed_one, unread)
from derive.notation.tokens import NUMBER as _NUMBER
from derive.notation.tokens import UNICODE as _UNICODE

# the text lexer's operators, longest first; "@" is numpy's matrix product
_OPS = {"**": "^", ".*": "hadamard", "./": "/", ".^": "^", "^∘": "^∘", "^": "^", "@": "@", **OPERATORS}
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_\{?[A-Za-z0-9]+\}?)?")
_ENTRY = re.compile(r"_\{?([a-z](?:,?[a-z]){0,2})\}?(?![A-Za-z0-9])")   # dL/dy_kl: an entry
_PREFIX = re.compile(r"(?:np|numpy|torch(?:\s*\.\s*nn\s*\.\s*functional)?|scipy\s*\.\s*special)\s*\.\s*(?=[A-Za-z])")
_KEYWORD = re.compile(r"(axis|dim|keepdims|keepdim)\s*=\s*(?:(True|False)\b)?")
_OPERAND_END = ("name", ")", "T", "num")
_NO_OP = re.compile(r"\.\s*(?:flatten|ravel|squeeze)\s*\(\s*\)")
_TRANSPOSED = re.compile(r"\.\s*(?:transpose|t)\s*\(\s*\)")
_METHOD = re.compile(r"\.\s*(?:dot|matmul|mm)\s*\(")
_REDUCING = re.compile(r"\.\s*(sum|mean|max|min)\s*\(")      # numpy's X.sum(axis=0): sum(X, axis=0)
_BIG = re.compile(r"(sum|max|min)_\{?([a-z])\}?")
_DIGITS = re.compile(r"\d+")
_INVERSE_T = re.compile(r"\^\s*(?:\(\s*-\s*T\s*\)|\{\s*-\s*T\s*\}|-\s*T(?![A-Za-z0-9_]))")
_SUPERSCRIPT = re.compile(r"\^\s*(?:\(\s*([A-Za-z0-9]+)\s*\)|\[\s*([A-Za-z0-9]+)\s*\]|\{\s*[(\[]\s*([A-Za-z0-9]+)\s*[)\]]\s*\}"
                          r"|([A-Za-z0-9]+))")      # ^3, ^(3), ^[3], ^{(3)}: a layer or step, as the problem may name it


def lex_text(text: str, names: dict[str, str] | None = None, fmt: str = "text") -> list[Token]:
    """Plain-text tokens (also numpy and Matlab notation). `names` maps multi-character names
    (`dL/dh3`, `P(y=i)`) to canonical ids."""
    known_names = KnownNames.of(names)
    tokens: list[Token] = []
    bars = 0                       # |x| open
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        m = _PREFIX.match(text, i) if c in "nts" else None       # (each pattern tried only where it can start)
        if m and not (tokens and tokens[-1].kind in _OPERAND_END):       # np.sum, torch.sigmoid: the name
            word = re.compile(r"[A-Za-z]\w*").match(text, m.end())
            if word.group() in PREFIXED:                                 # torch.mm, torch.t
                tokens.append(Token("name", PREFIXED[word.group()], i))
                i = word.end()
                continue
            i = m.end()
            continue
        dot = c == "."
        m = _NO_OP.match(text, i) if dot else None
        if m and tokens and tokens[-1].kind in _OPERAND_END:             # .flatten(), .ravel(): a vector stays one
            i = m.end()
            continue
        m = _TRANSPOSED.match(text, i) if dot else None
        if m and tokens and tokens[-1].kind in _OPERAND_END:             # a.transpose(), a.t()
            tokens.append(Token("T", ".T", i))
            i = m.end()
            continue
        m = _KEYWORD.match(text, i) if c in "adk" else None
        if m and tokens and tokens[-1].kind == ",":                      # keepdims: nothing; dim=1 is axis=1
            if m.group(1).startswith("keepdim"):                        # (the axis keyword stays: max(X, axis=1)
                tokens.pop()                                            # reduces, max(X, 1) clips)
            else:
                tokens += [Token("name", "axis", i), Token("op", "=", i)]
            i = m.end()
            continue
        if c == "|":                                                     # |x| is abs(x)
            if bars and tokens and tokens[-1].kind in _OPERAND_END:
                tokens.append(Token(")", "|", i))
                bars -= 1
            else:
                tokens += [Token("name", "abs", i), Token("(", "|", i)]
                bars += 1
            i += 1
            continue
        if c == "'" and tokens and tokens[-1].kind in (")", "T"):        # (W x)': Matlab's transpose
            tokens.append(Token("T", "'", i))
            i += 1
            continue
        hit = known_names.match(text, i)
        if hit:
            known, end = hit
            primed = _primed_derivative(known_names, known, text, end)
            if primed:                                  # dL/dh' with h' the problem's h1: dL/dh1
                i = _name_token(tokens, primed[0], text, i, primed[1])
                continue
            entry = _ENTRY.match(text, end)             # dL/dy_kl: an entry of a named gradient
            name = known_names[known] + ("_" + entry.group(1).replace(",", "") if entry else "")
            i = _name_token(tokens, name, text, i, entry.end() if entry else end)
            continue
        m = DERIVATIVE.match(text, i) if c == "d" else None
        if m and (i == 0 or not text[i - 1].isalnum()):      # dl/dW^(1), dL/dZ^{1}: the problem's dl/dW1
            name = f"d{canonical_name(m.group(1), known_names)}/d{canonical_name(m.group(2), known_names)}"
            if name in known_names or name in known_names.values():
                i = _name_token(tokens, known_names.get(name, name), text, i, m.end())
                continue
        m = _METHOD.match(text, i) if dot else None
        if m and tokens and tokens[-1].kind in _OPERAND_END:             # a.dot(b), a.matmul(b): a @ (b)
            tokens.append(Token("op", "@", i))
            i = m.end() - 1
            continue
        m = _REDUCING.match(text, i) if dot else None
        start = _receiver(tokens) if m else None
        if start is not None:                           # X.sum(axis=0), (g * x).mean(): sum(X, axis=0)
            tokens[start:start] = [Token("name", m.group(1), i), Token("(", "(", i)]
            empty = text[m.end():].lstrip().startswith(")")
            tokens.append(Token(",", ",", i) if not empty else Token(")", ")", i))
            i = m.end() if not empty else text.index(")", m.end()) + 1
            continue
        if text.startswith(".'", i) and tokens and tokens[-1].kind in _OPERAND_END:    # Matlab's x.'
            tokens.append(Token("T", ".'", i))
            i += 2
            continue
        if text.startswith(".T", i) and tokens and tokens[-1].kind in ("name", ")", "T", "num"):
            tokens.append(Token("T", ".T", i))
            i += 2
            continue
        m = _INVERSE_T.match(text, i) if c == "^" else None
        if m:                                           # X^-T, X^(-T), X⁻ᵀ: the inverse, transposed
            tokens.append(Token("op", "^-T", i))
            i = m.end()
            continue
        two = text[i:i + 2]
        if two in _OPS and not (two == "./" and text[i + 2:i + 3].isdigit()):
            tokens.append(Token("op", _OPS[two], i))
            i += 2
            continue
        if c in _OPS:
            tokens.append(Token("op", "np*" if (c == "*" and fmt == "numpy") else _OPS[c], i))
            i += 1
            continue
        if c == "," and tokens and tokens[-1].kind == "num" and text[i + 1:i + 2].isdigit() \
                and sum(t.kind == "(" for t in tokens) == sum(t.kind == ")" for t in tokens):
            raise AnswerError(f"a decimal comma at column {i + 1}: write {tokens[-1].value}.{_DIGITS.match(text, i + 1).group()} "
                              "with a point (a comma separates a function's arguments)", i, text=text)
        if c in "(),":
            tokens.append(Token(c, c, i))
            i += 1
            continue
        if c in "[]":
            tokens.append(Token("(" if c == "[" else ")", c, i))
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
            if m.group() in ("1", "1.") and transposed_one(text, i + 1, tokens):      # 1^T X, 1.T @ X
                i = _name_token(tokens, ONES, text, i, i + 1)
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
            name, j, transposed = _superscripted(known_names, _UNICODE[c] + text[i + 1:j], text, j)   # δ³: delta^3
            i = _name_token(tokens, name, text, i, j)
            tokens.extend([Token("T", "T", j - 1)] * transposed)
            continue
        m = _IDENT.match(text, i)
        if m and m.group()[:1] == "T" and len(m.group()) > 1 and tokens and tokens[-1].value == "^" \
                and not known_names.at(text, i):             # x^Tx, A^TAx, A^TB^T: a transpose, then a factor
            tokens.append(Token("name", "T", i))
            i += 1
            continue
        if m:
            big = _BIG.fullmatch(m.group()) if m.group()[:3] in ("sum", "max", "min") else None
            if big and m.group() not in names:          # sum_k z_k, max_k z_k
                tokens.append(Token(big.group(1), big.group(2), i))
                i = m.end()
                continue
            name, j, transposed = _superscripted(known_names, m.group(), text, m.end())   # delta^(2): delta^2
            i = _name_token(tokens, name, text, i, j)
            tokens.extend([Token("T", "T", j - 1)] * transposed)
            continue
        raise AnswerError(f"unexpected character {c!r} at column {i + 1}{unread(c)}", i, text=text)
    tokens.append(Token("end", "", n))
    return tokens


def _superscripted(known_names: KnownNames, name: str, text: str, end: int) -> tuple[str, int, bool]:
    """(name, end, False), or (the problem's name, where its superscript ends, whether a T glued
    to it transposes it) where the problem names name^3 and the text writes name^3, ^(3), ^[3] or
    ^{(3)} (δ³, delta^(2), Ng's W^[1]); W^2T and W^(2)T are W^2 transposed, as W²ᵀ is."""
    m = _SUPERSCRIPT.match(text, end)
    if not m:
        return name, end, False
    sup, j = next(g for g in m.groups() if g), m.end()
    if m.group(4) and len(sup) > 1 and sup.endswith("T") and not known_names.get(f"{name}^{sup}"):
        sup, j = sup[:-1], j - 1
    named = known_names.get(f"{name}^{sup}")
    if not named:
        return name, end, False
    glued = text.startswith("T", j) and not re.match(r"[A-Za-z0-9_]", text[j + 1:j + 2])
    return named, j + glued, glued


def _receiver(tokens: list[Token]) -> int | None:
    """Where the operand before a method call starts: a name or a bracketed group, with its
    transposes; None when there is none."""
    j = len(tokens)
    while j and tokens[j - 1].kind == "T":
        j -= 1
    if j and tokens[j - 1].kind in ("name", "num"):
        return j - 1
    depth = 0
    for k in range(j - 1, -1, -1):
        depth += (tokens[k].kind == ")") - (tokens[k].kind == "(")
        if depth == 0:
            if tokens[k].kind != "(" or k == j - 1:
                return None
            return k - 1 if k and tokens[k - 1].kind == "name" else k      # f(x).sum(): the call is the operand
    return None


def _primed_derivative(known_names: KnownNames, known: str, text: str, end: int) -> tuple | None:
    """(the problem's name, where it ends) for a derivative whose variable is written primed, as
    the problem names it (dL/dh' where h' is its h1); None otherwise (then the prime transposes)."""
    j = end
    while j < len(text) and text[j] == "'":
        j += 1
    top, slash, bottom = known.partition("/d")
    if j == end or not slash or not top.startswith("d"):
        return None
    node = known_names.get(bottom + "'" * (j - end))
    name = f"{top}/d{node}" if node else None
    return (known_names.get(name, name), j) if name and (name in known_names or name in known_names.values()) else None


def _name_token(tokens: list[Token], name: str, text: str, start: int, i: int) -> int:
    """Append a name token, absorbing primes and a trailing `_3` (so `f'_3` and `f_3'` read as f3')."""
    primes = 0
    while i < len(text) and text[i] == "'":
        primes, i = primes + 1, i + 1
    if primes:
        m = re.compile(r"_\{?([A-Za-z0-9]+)\}?").match(text, i)
        if m:
            name, i = name + m.group(1), m.end()
        elif re.fullmatch(r"[A-Za-z]+_\{?\d+\}?", name):     # f_3': a derivative, as f3' (as LaTeX's f_3')
            name = name.replace("_", "")
    tokens.append(Token("name", name.replace("{", "").replace("}", ""), start, primes))
    return i


def latex_name(text: str, names: dict[str, str] | None = None) -> str | None:
    """The one name a bit of LaTeX writes (\\ell: l, \\hat{x}: xhat, \\mathbf{c}: c), else None."""
    try:
        found = [t for t in lex_latex(text[:200], names) if t.kind != "end"]
    except AnswerError:
        return None
    return found[0].value if len(found) == 1 and found[0].kind == "name" and not found[0].primes else None


def detect_format(text: str) -> str:
    """The format the answer looks like (formats.detect)."""
    return formats.detect(text)


def tokenize(text: str, fmt: str = "auto", names: dict[str, str] | None = None,
             max_length: int = MAX_LENGTH) -> list[Token]:
    """Bounded lexing in any format of the table (auto: the one detected). Token positions and
    error offsets are in `text` as typed, before normalisation."""
    if not isinstance(text, str):
        raise AnswerError("the answer must be text")
    if len(text) > max_length:
        raise AnswerError(f"the answer is {len(text)} characters long; the limit is {max_length}",
                          max_length, code="too_complex")
    if fmt == "auto":
        fmt = detect_format(text)
    if fmt not in formats.BY_NAME:
        raise AnswerError(f"unknown format {fmt!r}; use {', '.join(formats.NAMES)}")
    lexer = formats.BY_NAME[fmt].lexer
    plain, where = normalise(text, latex=lexer == "latex")
    try:
        tokens = lex_latex(plain, names) if lexer == "latex" else lex_text(plain, names, fmt)
    except AnswerError as e:
        raise _in_original(e, where, text) from None
    if plain == text:
        return tokens
    last = len(where) - 1
    return [Token(t.kind, t.value, where[min(t.pos, last)], t.primes) for t in tokens]


def _in_original(e: AnswerError, where: list[int], text: str) -> AnswerError:
    """The error with its offset (and the column its message names) in the text as typed."""
    if e.offset is None:
        return AnswerError(e.message, None, e.code, text)
    at = where[min(e.offset, len(where) - 1)]
    message = re.sub(r"column (\d+)", lambda m: f"column {where[min(int(m.group(1)) - 1, len(where) - 1)] + 1}",
                     e.message)
    return AnswerError(message, at, e.code, text)
