"""LaTeX -> the same Token stream as mathparse.lex_text. A lexer only: never eval.

Braces group like parentheses; \\frac{a}{b} becomes ((a)/(b)); \\frac{\\partial L}{\\partial h_3}
becomes the one name dL/dh_3, which the scope resolves like the text form dL/dh3. Subscripts
join their name (w_{1} -> w1, P_i stays P_i so an index quantity can read it); primes follow
mathparse (f'_3 and f_3' are f3').
"""
from __future__ import annotations

import re

from derive.errors import AnswerError
from derive.expr import functions as fns
from derive.notation.tokens import NUMBER as _NUMBER
from derive.notation.tokens import DERIVATIVE, ONES, OPERATORS, KnownNames, Token, canonical_name, transposed_one, unread
from derive.notation.tokens import UNICODE as _UNICODE

# commands that are a name (greek letters and named functions)
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "eta", "theta", "lambda", "mu",
          "rho", "sigma", "tau", "phi", "varphi", "psi", "omega", "xi", "zeta", "nu", "kappa", "pi", "ell"}
_RENAME = {"epsilon": "eps", "varepsilon": "eps", "lambda": "lambda_", "varphi": "phi", "ell": "l"}
_MATRIX_COMMANDS = {"max", "min", "det", "tr"}    # \det A, \tr A, \max_k: the matrix operations written as commands
_DELIMS = {"lfloor": ("name", "floor"), "lceil": ("name", "ceil"), "rfloor": (")", ")"), "rceil": (")", ")")}
_INDEX = re.compile(r"\s*(?:\\(?:no)?limits\s*)?_\s*(?:\{\s*([a-z](?:\s*,\s*[a-z])*)\s*(?:=([^{}]*))?\}|([a-z]))")
_OPS = {"cdot": "*", "times": "*", "odot": "hadamard", "circ": "hadamard", "ast": "*", "oslash": "/"}
_SPACE = {",", ";", "!", " ", ":", "quad", "qquad", "left", "right", "bigl", "bigr", "Bigl", "Bigr",
          "big", "Big", "displaystyle", "limits"}
_WRAP = {"mathrm", "text", "operatorname", "mathit", "mathbf", "boldsymbol", "bm", "vec", "mathsf",
         "textrm", "mathnormal", "mathcal"}
_T = r"(?:T|\\top|\\intercal|\\(?:mathsf|mathrm|rm|sf|text|textsf|textrm|operatorname|mathit)\s*(?:\{\s*T\s*\}|T\b))"   # ^{\mathsf T}
_TRANSPOSE = re.compile(rf"\^\s*(?:\{{\s*(?:\\[!,;: ]\s*)*{_T}\s*\}}|{_T})")
_ENTRYWISE = re.compile(r"\^\s*\{\s*\\circ\s*")
_INVERSE_T = re.compile(rf"\^\s*\{{\s*-\s*{_T}\s*\}}")
_SUB = re.compile(r"_\s*(?:\{\s*([A-Za-z0-9, ]+?)\s*\}|([A-Za-z0-9]))")
_INDICATOR_SUB = re.compile(r"(\\math(?:bb|bf)\s*\{\s*1\s*\})_\{((?:[^{}]|\{[^{}]*\})*(?:=|>|\\geq?|\\ge)(?:[^{}]|\{[^{}]*\})*)\}")
_BRACKET_SUP = re.compile(r"\^\s*\{\s*\[\s*[A-Za-z0-9]+\s*\]")
_UPRIGHT_SUB = re.compile(r"_\s*(\{\s*)?\\(?:mathrm|text|textrm|mathit|operatorname|mathcal)\s*\{\s*([A-Za-z0-9]+)\s*\}(?(1)\s*\})")
_SUP = re.compile(r"\s*\^\s*(?:\{\s*([A-Za-z0-9]+)\s*\}|([A-Za-z0-9])|\{\s*(\(\s*[A-Za-z0-9]+\s*\))\s*\})")
_ACCENTS = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde",
            "widetilde": "tilde", "check": "check"}
_ACCENT_RE = "|".join(sorted(_ACCENTS, key=len, reverse=True))
_PRIME = re.compile(r"'|\^\s*\{\s*\\prime\s*\}|\^\s*\\prime")
_SUP_T = re.compile(r"\s*\^\s*\{\s*(\(?\s*[A-Za-z0-9]+\s*\)?)\s*(?:\\top|\\intercal|T)\s*\}")   # W^{1\top}: W^1, transposed


def _err(message: str, pos: int, text: str) -> AnswerError:
    return AnswerError(f"syntax error at column {pos + 1}: {message}", pos, text=text)


def _group(text: str, i: int) -> tuple[str, int]:
    """The raw content of the braced group starting at text[i] == '{', and the index after it."""
    depth, j = 0, i
    while j < len(text):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
        j += 1
    raise _err(f"the '{{' at column {i + 1} is never closed", i, text)


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _plain_name(raw: str) -> str | None:
    """`L`, `h_3`, `h_{3}`, `\\rho`, `W^2`, `\\hat{h}` -> a name, or None when raw is not one name."""
    s = raw.strip()
    s = re.sub(r"\\(?:mathrm|mathbf|boldsymbol|text|mathit)\s*\{([^{}]*)\}", r"\1", s)
    s = re.sub(rf"\\({_ACCENT_RE})\s*\{{([^{{}}]*)\}}", lambda m: m.group(2) + _ACCENTS[m.group(1)], s)
    s = re.sub(rf"\\({_ACCENT_RE})\s*([A-Za-z])", lambda m: m.group(2) + _ACCENTS[m.group(1)], s)
    s = re.sub(r"\\([A-Za-z]+)", lambda m: _RENAME.get(m.group(1), m.group(1)), s)
    s = s.replace("{", "").replace("}", "").replace(" ", "")
    s = re.sub(r"_(\d+)", r"\1", s).replace("^\\prime", "'").replace("^prime", "'")   # h_3: h3; h^{\prime}: h'
    return s if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)?(?:\^\(?[A-Za-z0-9]+\)?)?'*", s) else None


_SINGLE = {c: ("op", v) for c, v in OPERATORS.items()} | {"(": ("(", "("), "[": ("(", "["), ")": (")", ")"),
                                                          "]": (")", "]"), ",": (",", ",")}


class _Lexer:
    def __init__(self, text: str, names: dict[str, str] | None):
        self.text, self.names = text, KnownNames.of(names)
        self.tokens: list[Token] = []
        self.closers: list[list[Token]] = []     # tokens to emit at each '}' (a stack)
        self.norm_open = False                   # inside \\| ... \\|
        self.bars = 0                            # |x| open

    def emit(self, kind, value, pos, primes=0):
        self.tokens.append(Token(kind, value, pos, primes))

    def run(self) -> list[Token]:
        text, i = self.text, 0
        while i < len(text):
            c = text[i]
            if c.isspace() or c in "&$":
                i += 1
                continue
            known = self.names.at(text, i)
            if known:
                i = self.name(self.names[known], i, i + len(known))
                continue
            if c == "\\":
                i = self.command(i)
                continue
            if c == "{":
                self.emit("(", "(", i)
                self.closers.append([Token(")", ")", i)])
                i += 1
                continue
            if c == "}":
                if not self.closers:
                    raise _err("a closing '}' has no matching '{'", i, text)
                for t in self.closers.pop():
                    if t.kind == "den":
                        k = _skip_space(text, i + 1)
                        self.emit("(", "(", k)
                        self.closers.append([Token(")", ")", k), Token(")", ")", k)])
                        i = k
                        break
                    self.tokens.append(Token(t.kind, t.value, i, t.primes))
                i += 1
                continue
            if c == "^":
                m = _ENTRYWISE.match(text, i)
                if m:                                   # A^{\circ -1}: an entrywise power
                    self.emit("op", "^∘", i)
                    self.emit("(", "(", i)
                    self.closers.append([Token(")", ")", i)])
                    i = m.end()
                    continue
                m = _INVERSE_T.match(text, i)
                if m:                                   # X^{-T}: the inverse, transposed
                    self.emit("op", "^-T", i)
                    i = m.end()
                    continue
                m = _TRANSPOSE.match(text, i)
                if m and self.tokens and self.tokens[-1].kind in ("name", ")", "T", "num"):
                    self.emit("T", "^T", i)
                    i = m.end()
                    continue
                self.emit("op", "^", i)
                i += 1
                continue
            if text.startswith("**", i):
                self.emit("op", "^", i)
                i += 2
                continue
            if c in _SINGLE:
                self.emit(*_SINGLE[c], i)
                i += 1
                continue
            if c == "|":
                i = self.bar(i, i + 1)
                continue
            if c == "'" and self.tokens and self.tokens[-1].kind in (")", "T"):     # (W x)': a transpose
                self.emit("T", "'", i)
                i += 1
                continue
            if c == "'":
                raise _err("a prime (') must follow a function name, as in f_3' or \\sigma'(Z_2)", i, text)
            m = _NUMBER.match(text, i)
            if m and m.group() == "1" and transposed_one(text, m.end(), self.tokens):   # 1^{\top} X
                self.emit("name", ONES, i)
                i = m.end()
                continue
            if m:
                self.emit("num", m.group(), i)
                i = m.end()
                continue
            if c in _UNICODE:
                i = self.name(_UNICODE[c], i, i + 1)
                continue
            m = DERIVATIVE.match(text, i)
            if m and (i == 0 or not text[i - 1].isalnum()):      # dl/dW^{(1)}: the problem's dl/dW1
                name = f"d{canonical_name(m.group(1), self.names)}/d{canonical_name(m.group(2), self.names)}"
                if name in self.names or name in self.names.values():
                    self.emit("name", self.names.get(name, name), i)
                    i = m.end()
                    continue
            m = re.compile(r"[A-Za-z][A-Za-z0-9]*").match(text, i)
            if m:
                i = self.name(m.group(), i, m.end())
                continue
            raise _err(f"unexpected character {c!r}{unread(c)}", i, text)
        if self.closers:
            raise _err("a '{' is never closed", len(text), text)
        self.emit("end", "", len(text))
        return self.tokens

    def name(self, name: str, start: int, i: int) -> int:
        """A name with its subscript, a superscript that makes a known name (W^2), and primes."""
        text = self.text
        m = _SUB.match(text, i)
        if m and "_" not in name:
            sub = (m.group(1) or m.group(2)).replace(",", "").replace(" ", "")
            name, i = self.names.get(f"{name}_{sub}", name + (sub if sub.isdigit() else "_" + sub)), m.end()  # Z_{1}: Z_1
        transposed = False
        m = _SUP_T.match(text, i)
        if m:                                       # the sheets print W^1 transposed as W^{1\top}
            sup = m.group(1).replace(" ", "")
            key = next((k for k in (f"{name}^{sup}", f"{name}^({sup.strip('()')})", f"{name}^{sup.strip('()')}")
                        if k in self.names), None)
            if key:
                name, i, transposed = self.names[key], m.end(), True
        m = None if transposed else _SUP.match(text, i)
        if m:                                       # W^2, W^{2} and W^{(2)} name the problem's W^(2) or W^2
            sup = (m.group(1) or m.group(2) or m.group(3)).replace(" ", "")
            key = next((k for k in (f"{name}^{sup}", f"{name}^({sup.strip('()')})", f"{name}^{sup.strip('()')}")
                        if k in self.names), None)
            if key:
                name, i, m = self.names[key], m.end(), _SUB.match(text, m.end())
                sub = (m.group(1) or m.group(2)).replace(",", "").replace(" ", "") if m else ""
                if self.names.get(f"{key}_{sub}") or re.fullmatch(r"[a-z]{1,3}", sub):  # \sigma^2_{\mathcal{B}}:
                    name, i = self.names.get(f"{key}_{sub}", f"{name}_{sub}"), m.end()    # sigma^2_B; \sigma^2_j: var_j
        primes = 0
        while True:
            m = _PRIME.match(text, i)
            if not m:
                break
            primes, i = primes + 1, m.end()
        if primes and self.names.get(name + "'" * primes):       # c^{\prime}: the problem's c' (its c1)
            name, primes = self.names[name + "'" * primes], 0
        if primes:
            m = _SUB.match(text, i)
            if m and (m.group(1) or m.group(2)).isalnum():
                name, i = name.split("_")[0] + (m.group(1) or m.group(2)), m.end()
            elif "_" in name and name.split("_")[1].isdigit():
                name = name.replace("_", "")
        self.emit("name", name, start, primes)
        if transposed:
            self.emit("T", "^T", i)
        return i

    def command(self, i: int) -> int:
        text = self.text
        m = re.compile(r"\\([A-Za-z]+|.)").match(text, i)
        if not m:
            raise _err("a backslash ends the answer", i, text)
        cmd, j = m.group(1), m.end()
        if cmd in _SPACE:
            return j
        if cmd in ("{", "}"):
            self.emit("(" if cmd == "{" else ")", cmd, i)
            return j
        if cmd in _OPS:
            self.emit("op", _OPS[cmd], i)
            return j
        if cmd in ("top", "intercal"):
            self.emit("T", "^T", i)
            return j
        if cmd in ("frac", "dfrac", "tfrac"):
            return self.frac(i, j)
        if cmd in _GREEK:
            digits = re.compile(r"\d+").match(text, j)      # \delta3: MathLive's rendering of a typed delta3
            name = _RENAME.get(cmd, cmd)
            if digits and not self.names.get(name) and name not in ("pi",):
                return self.name(name + digits.group(), i, digits.end())
            return self.name(name, i, j)
        if cmd in ("lvert", "rvert", "vert", "mid"):
            return self.bar(i, j)
        if cmd in ("max", "min") and _INDEX.match(text, j):
            return self.bigop(cmd, i, j)
        if cmd in _MATRIX_COMMANDS or cmd in fns.latex_commands():     # \tanh, \ln: the function table's
            return self.name(cmd, i, j)
        if cmd in _DELIMS:                          # \lfloor x \rfloor is floor(x)
            kind, value = _DELIMS[cmd]
            self.emit(kind, value, i)
            if kind == "name":
                self.emit("(", "(", i)
            return j
        if cmd in _WRAP or cmd == "mathbb":
            k = _skip_space(text, j)
            if k >= len(text) or text[k] != "{":
                if cmd != "mathbb" and text[k:k + 1] == "1":      # \mathbf 1
                    return self.ones(i, k + 1)
                raise _err(f"\\{cmd} needs a braced argument", i, text)
            raw, end = _group(text, k)
            word = raw.strip().replace(" ", "")
            if word == "1" and not (cmd == "mathbb" and text[_skip_space(text, end):][:1] in ("[", "(")):
                return self.ones(i, end)              # \mathbf{1}_N: the ones-vector
            if cmd == "mathbb":
                if word == "1":                       # \mathbb{1}[v > 0]: 1 times the bracket, read as ReLU'(v)
                    self.emit("num", "1", i)
                    return end
                if word == "I":
                    return self.name("I", i, end)
                raise _err(f"\\mathbb{{{word}}} is not understood here", i, text)
            if word in ("max", "min") and _INDEX.match(text, end):
                return self.bigop(word, i, end)
            if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", word):
                return self.name(word, i, end)
            greek = re.fullmatch(r"\\([A-Za-z]+)", word)
            if greek and greek.group(1) in _GREEK:              # \boldsymbol{\delta}_2
                return self.name(_RENAME.get(greek.group(1), greek.group(1)), i, end)
            self.emit("(", "(", i)
            self.closers.append([Token(")", ")", i)])
            return k + 1
        if cmd in _ACCENTS:
            k = _skip_space(text, j)
            raw, end = _group(text, k) if k < len(text) and text[k] == "{" else (text[k:k + 1], k + 1)
            base = _plain_name(raw) or raw.strip()
            accent = _ACCENTS[cmd]
            alias = self.names.get(f"{accent}{{{base}}}")
            return self.name(alias or f"{base}{accent}", i, end)
        if cmd == "partial":
            return self.partial_slash(i, j)
        if cmd == "sum":                           # \sum_{k=1}^{N} or \sum_k: the index is what matters
            if not _INDEX.match(text, j):
                raise _err("write the summation index, as in \\sum_{k=1}^{N}", i, text)
            return self.bigop("sum", i, j)
        if cmd in ("|", "lVert", "rVert", "Vert"):
            return self.norm(cmd, i, j)
        if cmd in ("gt", "geq"):
            self.emit("op", ">", i)
            return j
        raise _err(f"the LaTeX command \\{cmd} is not understood here{unread(cmd)}", i, text)

    def norm(self, cmd: str, i: int, j: int) -> int:
        """\\|A\\|_F, \\|x\\|_2, \\lVert x \\rVert: norm(...), the Frobenius norm (2-norm of a vector)."""
        if cmd == "lVert" or (cmd != "rVert" and not self.norm_open):
            self.norm_open = True
            self.emit("name", "norm", i)
            self.emit("(", "(", i)
            return j
        self.norm_open = False
        self.emit(")", ")", i)
        m = re.compile(r"\s*_\s*(?:\{\s*(?:F|2|\\mathrm\{F\})\s*\}|F|2)").match(self.text, j)
        return m.end() if m else j

    def bigop(self, kind: str, i: int, j: int) -> int:
        """\\sum_k, \\sum_{k,l} (two sums), \\max_k: a token per index; \\sum_{k=1}^{N}: k=1..N (see index.py)."""
        m = _INDEX.match(self.text, j)
        up = re.compile(r"\s*\^\s*(?:\{([^{}]*)\}|([A-Za-z0-9]))").match(self.text, m.end())
        bounds = f"={m.group(2) or ''}..{up.group(1) or up.group(2) if up else ''}" if m.group(2) or up else ""
        for index in (m.group(1) or m.group(3)).replace(" ", "").split(","):
            self.emit(kind, index + ("" if "," in m.group(0) else bounds.replace(" ", "")), i)
        return up.end() if up else m.end()

    def ones(self, i: int, j: int) -> int:
        """\\mathbf{1}, \\mathbf{1}_N, \\mathbb{1}_{N}: the ones-vector (its size, if written)."""
        m = _SUB.match(self.text, j)
        size = (m.group(1) or m.group(2)).replace(" ", "") if m else ""
        self.emit("name", f"{ONES}_{size}" if size else ONES, i)
        return m.end() if m else j

    def frac(self, i: int, j: int) -> int:
        text = self.text
        k = _skip_space(text, j)
        if k < len(text) and text[k] == "{":
            num, after = _group(text, k)
            k2 = _skip_space(text, after)
            if k2 >= len(text) or text[k2] != "{":
                raise _err("\\frac needs a second braced argument (the denominator)", k2, text)
            den, end = _group(text, k2)
            d = self.derivative(num, den)
            if d is not None:
                return self.name(d, i, end)
            # ((num)/(den)): the numerator's '}' emits ') /', the denominator's '}' emits ') )'
            self.emit("(", "(", i)
            self.emit("(", "(", k)
            self.closers.append([Token(")", ")", k), Token("op", "/", k), Token("den", "", k)])
            return k + 1
        # \frac12: two single characters
        if k + 1 < len(text) and text[k].isalnum() and text[k + 1].isalnum():
            for kind, value in (("(", "("), ("num" if text[k].isdigit() else "name", text[k]), ("op", "/"),
                                ("num" if text[k + 1].isdigit() else "name", text[k + 1]), (")", ")")):
                self.emit(kind, value, k)
            return k + 2
        raise _err("\\frac needs two braced arguments, as in \\frac{a}{b}", i, text)

    def derivative(self, num: str, den: str) -> str | None:
        """\\partial A over \\partial B (or dA over dB) -> the name dA/dB."""
        for mark in (r"\\partial", "d"):
            a = re.fullmatch(rf"\s*{mark}\s*(.+)", num, re.S)
            b = re.fullmatch(rf"\s*{mark}\s*(.+)", den, re.S)
            if a and b:
                x, y = _plain_name(a.group(1)), _plain_name(b.group(1))
                if x and y:
                    return f"d{canonical_name(x, self.names)}/d{canonical_name(y, self.names)}"
        return None

    def partial_slash(self, i: int, j: int) -> int:
        """\\partial L / \\partial h_3 -> dL/dh_3."""
        one = (rf"(?:\\(?:{_ACCENT_RE}|mathbf|boldsymbol|bm|vec|mathrm)\s*\{{[^{{}}]*\}}|\\(?:{_ACCENT_RE})\s*[A-Za-z]"
               r"|[A-Za-z][A-Za-z0-9]*|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?")
        m = re.compile(rf"\s*({one})\s*/\s*\\partial\s*({one}(?:\^\{{?\(?[A-Za-z0-9]+\)?\}}?)?)").match(self.text, j)
        if not m:
            raise _err("\\partial is read only in a derivative such as \\frac{\\partial L}{\\partial h_3}",
                       i, self.text)
        x, y = _plain_name(m.group(1)), _plain_name(m.group(2))
        if not (x and y):
            raise _err("this derivative is not understood", i, self.text)
        return self.name(f"d{canonical_name(x, self.names)}/d{canonical_name(y, self.names)}", i, m.end())

    def bar(self, i: int, j: int) -> int:
        """|x|, \\lvert x \\rvert, \\left| x \\right|: abs(x)."""
        if self.bars and self.tokens and self.tokens[-1].kind in ("name", ")", "T", "num"):
            self.emit(")", "|", i)
            self.bars -= 1
        else:
            self.emit("name", "abs", i)
            self.emit("(", "|", i)
            self.bars += 1
        return j


def lex_latex(text: str, names: dict[str, str] | None = None) -> list[Token]:
    """LaTeX tokens, the same kinds as mathparse.lex_text produces. n_{\\mathrm{in}} is read as n_{in},
    padded with spaces so that every later character keeps its column."""
    text = (names := KnownNames.of(names)).calls_in_latex(text)     # f(\mathbf{x}; \theta): the problem's f(x;theta)
    text = _UPRIGHT_SUB.sub(lambda m: f"_{{{m.group(2)}}}".ljust(len(m.group(0))), text)
    text = _BRACKET_SUP.sub(lambda m: m.group(0).replace("[", "(").replace("]", ")"), text)   # Ng's W^{[2]}: W^{(2)}
    text = _INDICATOR_SUB.sub(lambda m: f"{m.group(1)} [{m.group(2)}]", text)     # \mathbb{1}_{i=j}: \mathbb{1}[i=j]
    return _Lexer(text, names).run()
