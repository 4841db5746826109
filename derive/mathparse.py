"""Text and LaTeX -> an allow-listed syntax tree. Never eval: a lexer and a Pratt parser.

One parser for problem files and student answers; two lexers (text, LaTeX), one token stream;
`parse` returns frozen nodes that `symbolic.build` turns into SymPy against a problem's scope.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import AnswerError
from .latex import lex_latex
from .tokens import NUMBER as _NUMBER, OPERATORS, UNICODE as _UNICODE, KnownNames, Token  # noqa: F401

MAX_LENGTH = 2000          # characters in one answer
MAX_DEPTH = 50             # nesting of brackets and operators
MAX_DIGITS = 15            # digits in one number literal
MAX_HEIGHT = 200           # operations in one chain (x+x+...+x, W.T.T...): later stages recurse on the tree
MAX_ORDER = 3              # primes on one function: the third derivative is the highest understood


# ---- the syntax tree -------------------------------------------------------------------
@dataclass(frozen=True)
class Num:
    text: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Name:
    id: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call:
    """fn(args) or fn'(args); a bare `f3'` has no args (the derivative at its node's input).
    A space before the bracket makes `f3' (a + b)` the bare derivative times (a + b)."""
    fn: str
    args: tuple
    order: int = 0
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Neg:
    operand: object
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class BinOp:
    """op is one of + - * / ^ and 'hadamard'; `implicit` marks juxtaposition."""
    op: str
    left: object
    right: object
    pos: int = field(default=0, compare=False)
    implicit: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Transpose:
    operand: object
    pos: int = field(default=0, compare=False)


Node = Num | Name | Call | Neg | BinOp | Transpose


# ---- tokens -----------------------------------------------------------------------------
_OPS = {"**": "^", ".*": "hadamard", "^": "^", **OPERATORS}      # the text lexer's, longest first
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_\{?[A-Za-z0-9]+\}?)?")


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
            i = _name_token(tokens, known_names[known], text, i, i + len(known))
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
class Parser:
    """Pratt parser over a token list. `functions` are the names that take an argument list."""

    def __init__(self, tokens: list[Token], text: str, functions: frozenset[str]):
        self.tokens, self.text, self.functions = tokens, text, functions
        self.i, self.depth = 0, 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def fail(self, message: str, tok: Token | None = None) -> AnswerError:
        t = tok or self.tok
        return AnswerError(f"syntax error at column {t.pos + 1}: {message}", t.pos, text=self.text)

    def nest(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise AnswerError(f"the expression is nested more than {MAX_DEPTH} levels deep; "
                              "simplify it", self.tok.pos, code="too_complex", text=self.text)

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.fail("the answer is empty")
        node = self.expr()
        if self.tok.kind != "end":
            what = "a closing ')' has no matching '('" if self.tok.kind == ")" else f"unexpected {self.tok.value!r}"
            raise self.fail(what)
        self.bound_height(node)
        return node

    def bound_height(self, root: Node) -> None:
        """Depth counts brackets; a flat chain of a thousand '+' is as deep a tree. Walked with
        an explicit stack, since the tree may be deeper than Python's recursion limit."""
        height: dict[int, int] = {}
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            if not done:
                stack += [(node, True)] + [(k, False) for k in _children(node)]
                continue
            height[id(node)] = h = 1 + max((height[id(k)] for k in _children(node)), default=0)
            if h > MAX_HEIGHT:
                raise AnswerError(f"the expression chains more than {MAX_HEIGHT} operations (at column "
                                  f"{node.pos + 1}); write it in a shorter form", node.pos,
                                  code="too_complex", text=self.text)

    def expr(self) -> Node:
        self.nest()
        node = self.term()
        while self.tok.kind == "op" and self.tok.value in "+-":
            op = self.advance()
            self.expect_operand(op)
            node = BinOp(op.value, node, self.term(), op.pos)
        self.depth -= 1
        return node

    def expect_operand(self, op: Token):
        if self.tok.kind in ("end", ")", ",") or (self.tok.kind == "op" and self.tok.value in ("*", "/", "^", "hadamard")):
            raise self.fail(f"an operand is missing after {op.value if op.value != 'hadamard' else '⊙'!r}", self.tok)

    def starts_operand(self) -> bool:
        return self.tok.kind in ("num", "name", "(", "sum")

    def term(self) -> Node:
        node = self.unary()
        while True:
            if self.tok.kind == "op" and self.tok.value in ("*", "/", "hadamard"):
                op = self.advance()
                self.expect_operand(op)
                node = BinOp(op.value, node, self.unary(), op.pos)
            elif self.starts_operand():
                node = BinOp("*", node, self.unary(), self.tok.pos, implicit=True)
            else:
                return node

    def unary(self) -> Node:
        if self.tok.kind == "op" and self.tok.value in "+-":
            op = self.advance()
            self.nest()
            self.expect_operand(op)
            operand = self.unary()
            self.depth -= 1
            return Neg(operand, op.pos) if op.value == "-" else operand
        return self.power()

    def power(self) -> Node:
        node = self.postfix()
        if self.tok.kind == "op" and self.tok.value == "^":
            op = self.advance()
            self.expect_operand(op)
            self.nest()
            node = BinOp("^", node, self.unary(), op.pos)
            self.depth -= 1
            node = self.transposes(node)
        return node

    def transposes(self, node: Node) -> Node:
        while True:
            if self.tok.kind == "T":
                node = Transpose(node, self.advance().pos)
            elif (self.tok.kind == "op" and self.tok.value == "^" and self.tokens[self.i + 1].kind == "name"
                  and self.tokens[self.i + 1].value in ("T", "top") and self.tokens[self.i + 1].primes == 0):
                node = Transpose(node, self.advance().pos)
                self.advance()
            else:
                return node

    def postfix(self) -> Node:
        return self.transposes(self.primary())

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "num":
            return self.number()
        if t.kind == "name":
            if t.primes > MAX_ORDER:
                raise AnswerError(f"{t.value} has {t.primes} primes at column {t.pos + 1}; derivatives up to "
                                  f"order {MAX_ORDER} are understood", t.pos, code="too_complex", text=self.text)
            self.advance()
            spaced = self.tok.pos > 0 and self.text[self.tok.pos - 1:self.tok.pos].isspace()
            if self.tok.kind == "(" and (t.value in self.functions or t.primes) and not (t.primes and spaced):
                return Call(t.value, self.arguments(), t.primes, t.pos)
            if t.primes:
                return Call(t.value, (), t.primes, t.pos)
            if t.value in self.functions:
                applied = self.prefix_call(t)
                if applied is not None:
                    return applied
            return Name(t.value, t.pos)
        if t.kind == "sum":                      # \sum_{k=1}^{N} a_k b_k: the summand is the product that follows
            self.advance()
            self.nest()
            if self.tok.kind in ("end", ")", ",") or (self.tok.kind == "op" and self.tok.value in "+-"):
                raise self.fail("a sum needs a summand")
            body = self.term()
            self.depth -= 1
            return Call("sum", (body, Name(t.value, t.pos)), 0, t.pos)
        if t.kind == "(":
            self.advance()
            self.nest()
            node = self.indicator(self.expr())
            if self.tok.kind != ")":
                raise self.fail(f"the '(' at column {t.pos + 1} is never closed")
            self.advance()
            self.depth -= 1
            return node
        if t.kind == "end":
            raise self.fail("the expression ends where an operand was expected")
        raise self.fail(f"unexpected {t.value!r}; an operand was expected")

    def prefix_call(self, t: Token) -> Node | None:
        """A function written without brackets, as in \\tanh z_1 or \\tanh^2 z_1 (= tanh(z_1)^2):
        the argument is the operand that follows (with its own power and transposes); a number
        exponent right after the name powers the result. None when no operand follows."""
        power = None
        if self.tok.kind == "op" and self.tok.value == "^":
            kinds = [tok.kind for tok in self.tokens[self.i + 1:self.i + 5]]
            braced = kinds[:3] == ["(", "num", ")"]          # \tanh^{2}
            if (braced and kinds[3:4] and kinds[3] in ("num", "name", "(")) or \
                    (kinds[:1] == ["num"] and kinds[1:2] and kinds[1] in ("num", "name", "(")):
                caret = self.advance()
                if braced:
                    self.advance()
                num = self.number()
                if braced:
                    self.advance()
                power = (caret, num)
        if not self.starts_operand() or self.tok.kind == "sum":
            return None
        self.nest()
        arg = self.arguments() if self.tok.kind == "(" else (self.power(),)
        self.depth -= 1
        node = Call(t.value, arg, 0, t.pos)
        if power is not None:
            caret, num = power
            node = BinOp("^", node, num, caret.pos)
        return node

    def number(self) -> Num:
        """A number literal, bounded in digits before anything computes with it."""
        t = self.advance()
        if len(t.value.replace(".", "")) > MAX_DIGITS:
            raise AnswerError(f"the number at column {t.pos + 1} has more than {MAX_DIGITS} digits",
                              t.pos, code="too_complex", text=self.text)
        return Num(t.value, t.pos)

    def indicator(self, node: Node) -> Node:
        """(v1 > 0), the seed's 1(v1 > 0) and \\mathbb{1}[v_1 > 0]: the step function, ReLU'(v1)."""
        if not (self.tok.kind == "op" and self.tok.value == ">"):
            return node
        gt = self.advance()
        if not (self.tok.kind == "num" and float(self.tok.value) == 0):
            raise self.fail("only a comparison with 0 is understood, as in (v1 > 0)", gt)
        self.advance()
        return Call("relu", (node,), 1, gt.pos)

    def arguments(self) -> tuple:
        open_ = self.advance()
        self.nest()
        args = [self.indicator(self.expr())]
        while self.tok.kind == ",":
            self.advance()
            args.append(self.expr())
        if self.tok.kind != ")":
            raise self.fail(f"the '(' at column {open_.pos + 1} is never closed")
        self.advance()
        self.depth -= 1
        return tuple(args)


def _children(node: Node) -> tuple:
    if isinstance(node, BinOp):
        return (node.left, node.right)
    if isinstance(node, (Neg, Transpose)):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args
    return ()


def detect_format(text: str) -> str:
    """A backslash or a brace means LaTeX."""
    return "latex" if ("\\" in text or "{" in text) else "text"


def parse(text: str, fmt: str = "auto", *, names: dict[str, str] | None = None,
          functions: frozenset[str] = frozenset(), max_length: int = MAX_LENGTH) -> Node:
    """Parse `text` into a syntax tree; raises AnswerError pointing at the problem."""
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
    return Parser(tokens, text, functions).parse()
