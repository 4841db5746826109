"""LaTeX -> readable plain text, for places that show an echo but cannot typeset it (Gradescope's
text feedback, the class summary): \\frac{\\partial \\rho}{\\partial b_{3}} -> ∂ρ/∂b3,
W_{3}^{\\top} \\delta_{4} -> W3ᵀ δ4. Only for display; it reads what latex.py writes and falls back
to the LaTeX itself on anything deeper or longer than that ever is."""
from __future__ import annotations

import re

MAX_LENGTH = 20_000
MAX_DEPTH = 100

SYMBOLS = {
    **{g: c for g, c in zip(
        "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi rho "
        "varrho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Phi Psi "
        "Omega".split(), "αβγδεεζηθθικλμνξπρρστυφφχψωΓΔΘΛΞΠΣΦΨΩ")},
    "partial": "∂", "odot": "⊙", "cdot": "·", "times": "×", "otimes": "⊗", "top": "ᵀ", "intercal": "ᵀ",
    "sum": "Σ", "prod": "Π", "infty": "∞", "nabla": "∇", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥",
    "neq": "≠", "ne": "≠", "approx": "≈", "in": "∈", "to": "→", "rightarrow": "→", "ell": "ℓ",
    "ldots": "…", "cdots": "⋯", "dots": "…", "circ": "∘", "pm": "±", "mp": "∓",
    ",": " ", ";": " ", ":": " ", "!": "", " ": " ", "quad": "  ", "qquad": "  ",
    "{": "{", "}": "}", "_": "_", "%": "%", "&": "&", "#": "#", "$": "$", "|": "‖", "\\": " ",
}
FONTS = {"mathrm", "mathbf", "mathit", "mathsf", "mathtt", "mathcal", "mathbb", "boldsymbol", "operatorname",
         "text", "textrm", "textit", "textbf", "texttt", "bm", "mathnormal"}
ACCENTS = {"hat": "\u0302", "widehat": "\u0302", "bar": "\u0304", "overline": "\u0304", "tilde": "\u0303",
           "widetilde": "\u0303", "vec": "\u20d7", "dot": "\u0307", "ddot": "\u0308"}
SPACED = {"odot", "cdot", "times", "otimes", "leq", "le", "geq", "ge", "neq", "ne", "approx", "in", "to",
          "rightarrow", "pm", "mp"}
_TOKEN = re.compile(r"\\([A-Za-z]+|.)|([{}^_])|(\s+)|(.)", re.S)
_ATOM = re.compile(r"[\w∂ᵀ'′.∞…]+|\(.*\)|\[.*\]", re.S)


class _TooDeep(Exception):
    pass


def plain(latex: str) -> str:
    """The readable text of `latex` (the LaTeX unchanged if it is not what the printers write)."""
    if not latex or len(latex) > MAX_LENGTH:
        return latex
    try:
        tokens = [(m[1], m[2], m[3], m[4]) for m in _TOKEN.finditer(latex)]
        out, _ = _seq(tokens, 0, 0, closing=False)
    except (_TooDeep, IndexError):
        return latex
    return re.sub(r"\s+\)", ")", re.sub(r"\(\s+", "(", re.sub(r"\s+", " ", out))).strip()


def _seq(tokens, i, depth, closing) -> tuple[str, int]:
    if depth > MAX_DEPTH:
        raise _TooDeep
    out = []
    while i < len(tokens):
        cmd, special, space, char = tokens[i]
        if special == "}":
            if closing:
                return "".join(out), i + 1
            i += 1
            continue
        if special == "{":
            inner, i = _seq(tokens, i + 1, depth + 1, True)
            out.append(inner)
        elif special in ("^", "_"):
            arg, i = _arg(tokens, i + 1, depth)
            out.append(_script(special, arg, "".join(out)))
        elif space:
            out.append(" ")
            i += 1
        elif char is not None:
            out.append(char)
            i += 1
        else:
            i += 1
            if cmd == "frac" or cmd in ("dfrac", "tfrac"):
                a, i = _arg(tokens, i, depth)
                b, i = _arg(tokens, i, depth)
                out.append(f"{_wrap(a)}/{_wrap(b)}")
            elif cmd == "sqrt":
                a, i = _arg(tokens, i, depth)
                out.append(f"√{_wrap(a, always=True)}")
            elif cmd in ACCENTS:
                a, i = _arg(tokens, i, depth)
                out.append(a + ACCENTS[cmd] if len(a) == 1 else f"{cmd}({a})")
            elif cmd in FONTS:
                a, i = _arg(tokens, i, depth)
                out.append(a)
            elif cmd in ("left", "right", "bigl", "bigr", "Bigl", "Bigr", "big", "Big"):
                d, i = _arg(tokens, i, depth)
                out.append("" if d == "." else d)
            elif cmd == "partial":
                out.append("∂")
                while i < len(tokens) and tokens[i][2]:
                    i += 1
            elif cmd in SPACED:
                out.append(f" {SYMBOLS[cmd]} ")
            else:
                out.append(SYMBOLS.get(cmd, cmd))
    if closing:
        raise IndexError("unbalanced braces")
    return "".join(out), i


def _arg(tokens, i, depth) -> tuple[str, int]:
    """One argument: a group, a command or a character (spaces before it skipped)."""
    while i < len(tokens) and tokens[i][2]:
        i += 1
    cmd, special, _, char = tokens[i]
    if special == "{":
        return _seq(tokens, i + 1, depth + 1, True)
    if cmd is not None:
        return (SYMBOLS.get(cmd, cmd) if cmd != "partial" else "∂"), i + 1
    return (special or char or ""), i + 1


def _script(kind: str, arg: str, before: str) -> str:
    arg = arg.strip()
    if kind == "^":
        if arg in ("ᵀ", "T"):
            return "ᵀ"
        return "^" + _wrap(arg)
    if arg.isdigit() and re.search(r"(?<![\w])[A-Za-zα-ωΑ-Ω]$", before):
        return arg                                    # W_{3} -> W3 as typed (but params_{2} stays)
    return "_" + _wrap(arg)


def _wrap(s: str, always: bool = False) -> str:
    s = s.strip()
    if not always and _ATOM.fullmatch(s) and not re.search(r"\s", s):
        return s
    return f"({s})"
