"""Text and LaTeX -> an allow-listed syntax tree. Never eval: a lexer and a Pratt parser.

One parser for problem files and student answers; two lexers (text, LaTeX), one token stream;
`parse` returns frozen nodes that `symbolic.build` turns into SymPy against a problem's scope.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from derive.errors import AnswerError
from derive.notation.lexers import tokenize
from derive.notation.tokens import MAX_LENGTH, Token, list_in_brackets
from derive.runtime.memo import IdMemo

MAX_DEPTH = 50             # nesting of brackets and operators
MAX_DIGITS = 15            # digits in one number literal
LOG_BASE = re.compile(r"log_?(\d+|e|[A-Za-z])")   # log_2, log10, log_b: a logarithm with a base
BIGOPS = ("sum", "max", "min")                       # \sum_k, \max_k, sum_k: over an index
MAX_HEIGHT = 200           # operations in one chain (x+x+...+x, W.T.T...): later stages recurse on the tree
NODES_PER_TOKEN = 4        # at most: a token makes up to 3 nodes (x^{-1}: a transpose, a power, -1),
                           # plus the product a juxtaposition makes with it
MAX_ORDER = 3              # primes on one function: the third derivative is the highest understood
MAX_E = 30                 # |exponent| of a number in E-notation (6.2e-1)
_PRODUCTS = {"*": "*", "/": "/", "hadamard": "hadamard", "@": "*", "np*": "hadamard"}   # token -> op


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
    bounds: str = ""        # \sum_{k=1}^{N}: "1..N" (grading/index.py checks they span k's range)


@dataclass(frozen=True)
class Neg:
    operand: object
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class BinOp:
    """op is one of + - * / ^ and 'hadamard'; `implicit` marks juxtaposition; `written` is a product's
    operator as typed: '*' (a matrix product, or entrywise where only that conforms), '@' (a matrix
    product only), 'np*' (numpy's entrywise *, a matrix product where only that conforms)."""
    op: str
    left: object
    right: object
    pos: int = field(default=0, compare=False)
    implicit: bool = field(default=False, compare=False)
    written: str = field(default="", compare=False)


@dataclass(frozen=True)
class Transpose:
    operand: object
    pos: int = field(default=0, compare=False)


Node = Num | Name | Call | Neg | BinOp | Transpose


class Parser:
    """Pratt parser over a token list. `functions` are the names that take an argument list."""

    def __init__(self, tokens: list[Token], text: str, functions: frozenset[str],
                 nodes: frozenset[str] = frozenset(), plan: tuple = ()):
        self.tokens, self.text, self.functions = tokens, text, functions
        self.nodes = nodes            # functions with one node: a bare f1 (or f3') means it at that node
        self.plan = plan              # which ambiguous juxtapositions take their second reading
        self.points: list[str] = []   # each ambiguous juxtaposition met, as its second reading reads
        self.i, self.depth = 0, 0

    def is_function(self, name: str) -> bool:
        return name in self.functions or bool(LOG_BASE.fullmatch(name))

    def bare_within(self, start: int, end: int | None = None, skip: int | None = None) -> bool:
        """Whether tokens[start:end] hold a function of a node written bare (f1' or σ with no
        bracket after it): the answer is in the seeds' node notation, where f3'(a + b) may be a product."""
        end = len(self.tokens) - 1 if end is None else end
        return any(self.tokens[k].kind == "name" and self.tokens[k].value in self.nodes
                   and self.tokens[k + 1].kind != "(" and k != skip for k in range(start, end))

    def bracket_end(self) -> int:
        """The index of the ')' matching the '(' at the current token."""
        depth = 0
        for k in range(self.i, len(self.tokens)):
            kind = self.tokens[k].kind
            depth += kind == "("
            depth -= kind == ")"
            if depth == 0:
                return k
        return len(self.tokens)

    def choose(self, first: str, second: str) -> bool:
        """An ambiguous juxtaposition: True when this reading takes its second meaning."""
        k = len(self.points)
        other = k < len(self.plan) and self.plan[k] == 1
        self.points.append(second if other else first)
        return other

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
        if len(self.tokens) * NODES_PER_TOKEN > MAX_HEIGHT:     # else the tree cannot be that high
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
                stack += [(node, True)] + [(k, False) for k in children(node)]
                continue
            height[id(node)] = h = 1 + max((height[id(k)] for k in children(node)), default=0)
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
        if self.tok.kind in ("end", ")", ",") or (self.tok.kind == "op" and (self.tok.value in _PRODUCTS
                                                                              or self.tok.value == "^")):
            raise self.fail(f"an operand is missing after {({'hadamard': '⊙', 'np*': '*'}).get(op.value, op.value)!r}")

    def starts_operand(self) -> bool:
        return self.tok.kind in ("num", "name", "(") + BIGOPS

    def term(self) -> Node:
        begin = self.tok.pos
        node = self.unary()
        while True:
            if self.tok.kind == "op" and self.tok.value in _PRODUCTS:
                op = self.advance()
                self.expect_operand(op)
                start = self.tok.pos
                right = self.unary()
                if op.value == "hadamard" and self.starts_operand() and self.tok.kind not in BIGOPS:
                    right = self.hadamard_grouping(begin, right, op, start)
                written = "" if op.value in ("/", "hadamard") else op.value
                node = BinOp(_PRODUCTS[op.value], node, right, op.pos, written=written)
            elif self.starts_operand():
                if isinstance(node, Num) and self.tok.kind == "num":     # 31 744: a thousands separator?
                    raise self.fail(f"two numbers side by side ({node.text} {self.tok.value}): write "
                                    f"{node.text}{self.tok.value} for one number, or {node.text} * "
                                    f"{self.tok.value} for a product")
                node = BinOp("*", node, self.unary(), self.tok.pos, implicit=True)
            else:
                return node

    def hadamard_grouping(self, begin: int, right: Node, op: Token, start: int) -> Node:
        """a ⊙ b c: ⊙ and juxtaposition bind alike, so (a ⊙ b) c is the first reading and
        a ⊙ (b c) the second; both are graded and the one used is said."""
        a = self.text[begin:op.pos].strip()
        end = self.bracket_free_end()
        b, c = self.text[start:self.tok.pos].strip(), self.text[self.tok.pos:end].strip()
        if not self.choose(f"read {a} ⊙ {b} {c} as ({a} ⊙ {b}) {c}", f"read {a} ⊙ {b} {c} as {a} ⊙ ({b} {c})"):
            return right
        while self.starts_operand() and self.tok.kind not in BIGOPS:
            right = BinOp("*", right, self.unary(), self.tok.pos, implicit=True)
        return right

    def bracket_free_end(self) -> int:
        depth = 0              # the offset where the juxtaposition at the current token ends
        for t in self.tokens[self.i:]:
            depth += t.kind == "("
            depth -= t.kind == ")"
            if depth < 0 or t.kind == "end" or (depth == 0 and (t.kind == "," or t.kind == "op" and t.value != "^")):
                return t.pos
        return len(self.text)

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
        if self.tok.kind == "op" and self.tok.value == "^-T":        # X^{-T}: the inverse, transposed
            op = self.advance()
            return self.transposes(Transpose(BinOp("^", node, Num("-1", op.pos), op.pos), op.pos))
        if self.tok.kind == "op" and self.tok.value in ("^", "^∘"):
            op = self.advance()
            self.expect_operand(op)
            self.nest()
            exponent, moved = self.unary(), 0
            while isinstance(exponent, Transpose):     # X^(-1)^T: the transpose is the power's, not the exponent's
                exponent, moved = exponent.operand, moved + 1
            node = BinOp(op.value, node, exponent, op.pos)
            for _ in range(moved):
                node = Transpose(node, op.pos)
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
            return self.named(t)
        if t.kind in BIGOPS:                     # \sum_{k=1}^{N} a_k b_k: the summand is the product that follows
            self.advance()
            self.nest()
            if self.tok.kind in ("end", ")", ",") or (self.tok.kind == "op" and self.tok.value in "+-"):
                raise self.fail(f"a {'sum' if t.kind == 'sum' else t.kind + 'imum'} needs a "
                                f"{'summand' if t.kind == 'sum' else 'body'}")
            body = self.term()
            self.depth -= 1
            index, _, bounds = t.value.partition("=")
            return Call(t.kind, (body, Name(index, t.pos)), 0, t.pos, bounds)
        if t.kind == "(":
            before = self.tokens[self.i - 1] if self.i else None      # ones(1, N), conv_transpose1d(g, w)
            self.advance()
            self.nest()
            node = self.indicator(self.expr())
            if self.tok.kind == ",":                     # np.ones((3, 3)): a shape, or a tuple
                raise self.fail(list_in_brackets(t.pos, before.value if before and before.kind == "name" else None))
            if self.tok.kind != ")":
                raise self.fail(f"the '(' at column {t.pos + 1} is never closed")
            self.advance()
            self.depth -= 1
            return node
        if t.kind == "end":
            raise self.fail("the expression ends where an operand was expected")
        raise self.fail(f"unexpected {t.value!r}; an operand was expected")

    def named(self, t: Token) -> Node:
        """A name, a call, or a bare derivative. A juxtaposition in node notation (the seeds' f'_3
        for f3' at its node) reads two ways: f'_3(a + b) is f3' at its node times the bracket or
        f3' applied to it; σ(1 - σ) and f1 x likewise. It is ambiguous only where the bracket or
        the answer holds a bare f' or σ (a person writing f1(w1 x + b1) means the call); then the
        product is the first reading and the call the second, and both are recorded."""
        self.advance()
        src = self.text[t.pos:self.tok.pos].strip()
        product = f"read {src}(…) as a product: {src} at its node times the bracket"
        call = f"read {src}(…) as {src} applied to the bracket"
        bracket = self.tok.kind == "(" and t.value in self.nodes and self.bare_within(self.i, self.bracket_end())
        if self.tok.kind == "(" and (t.primes or self.is_function(t.value)):
            if bracket and not self.choose(product, call):
                return Call(t.value, (), t.primes, t.pos) if t.primes else Name(t.value, t.pos)
            spaced = self.text[self.tok.pos - 1:self.tok.pos].isspace()
            if t.primes and spaced and not bracket:           # f3' (a + b): the bare derivative times it
                return Call(t.value, (), t.primes, t.pos)
            return Call(t.value, self.arguments(), t.primes, t.pos)
        if t.primes and not self.is_function(t.value) and t.value not in self.nodes:
            node: Node = Name(t.value, t.pos)          # W2': Matlab's transpose of a name that is no function
            for _ in range(t.primes % 2):
                node = Transpose(node, t.pos)
            return node
        if t.primes:
            return Call(t.value, (), t.primes, t.pos)
        if not self.is_function(t.value):
            return Name(t.value, t.pos)
        if t.value in self.nodes and self.bare_within(0, skip=self.i - 1) and self.starts_operand() \
                and self.tok.kind not in BIGOPS:
            if not self.choose(f"read {src} … as a product: {src} at its node times what follows",
                               f"read {src} … as {src} applied to what follows"):
                return Name(t.value, t.pos)
        applied = self.prefix_call(t)
        return applied if applied is not None else Name(t.value, t.pos)

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
        if not self.starts_operand() or self.tok.kind in BIGOPS:
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
        mantissa, _, exponent = t.value.lower().partition("e")
        if len(mantissa.replace(".", "")) > MAX_DIGITS:
            raise AnswerError(f"the number at column {t.pos + 1} has more than {MAX_DIGITS} digits",
                              t.pos, code="too_complex", text=self.text)
        if exponent and abs(int(exponent)) > MAX_E:
            raise AnswerError(f"the number at column {t.pos + 1} has an exponent beyond ±{MAX_E}",
                              t.pos, code="too_complex", text=self.text)
        return Num(t.value, t.pos)

    def indicator(self, node: Node) -> Node:
        """(v1 > 0), the seed's 1(v1 > 0) and \\mathbb{1}[v_1 > 0]: the step function, ReLU'(v1);
        (i = j), 1(i = j) and \\mathbb{1}[i = j]: 1 where two indices are equal, else 0."""
        if self.tok.kind == "op" and self.tok.value == "=":
            eq = self.advance()
            self.expect_operand(eq)
            return Call("eq", (node, self.expr()), 0, eq.pos)
        if not (self.tok.kind == "op" and self.tok.value == ">"):
            return node
        gt = self.advance()
        if self.tok.kind == "op" and self.tok.value == "=":       # v1 >= 0: the same step (they differ at 0
            self.advance()                                        # only, where ReLU' is a convention)
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
            args.append(self.indicator(self.expr()))     # axis=1: a keyword (symbolic.build reads it)
        if self.tok.kind != ")":
            raise self.fail(f"the '(' at column {open_.pos + 1} is never closed")
        self.advance()
        self.depth -= 1
        return tuple(args)


def children(node: Node) -> tuple:
    """The subtrees of a syntax-tree node."""
    if isinstance(node, BinOp):
        return (node.left, node.right)
    if isinstance(node, (Neg, Transpose)):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args
    return ()


def walk(tree: Node) -> tuple:
    """Every node of a syntax tree, parents before children, left to right (by a stack: a tree may
    be deeper than Python's recursion limit). Kept for the last trees walked: a check walks its
    answer's tree several times."""
    return _WALKS(tree)


def _walk(tree: Node) -> tuple:
    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(children(node)))
    return tuple(out)


_WALKS = IdMemo(_walk, limit=64)


def parse(text: str, fmt: str = "auto", *, names: dict[str, str] | None = None,
          functions: frozenset[str] = frozenset(), max_length: int = MAX_LENGTH) -> Node:
    """Parse `text` into a syntax tree; raises AnswerError pointing at the problem."""
    return Parser(tokenize(text, fmt, names, max_length), text, functions).parse()
