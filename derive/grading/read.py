"""Reading an answer: the bounded parse, index notation, the echo, and which names it may use."""
from __future__ import annotations

import re
from fractions import Fraction

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.errors import AnswerError
from derive.expr import functions as fns
from derive.expr import matrix as sy
from derive.notation import build as reader
from derive.notation import parser as mp
from derive.notation import readings as alternatives
from derive.notation import tokens
from derive.notation.latex import latex
from derive.grading.index import spans
from derive.problem.load import Problem
from derive.runtime.memo import IdMemo


def indices(q) -> tuple:
    """Free indices of an index quantity: () for dL/dW, ('i',) for dL/dh_i, ('j', 'i') for dP_j/dh_i."""
    if not q.index:
        return ()
    m = re.match(r"^d[A-Za-z][A-Za-z0-9^]*_([a-z])/", q.name)
    return (m.group(1), q.index) if m else (q.index,)


def parse_answer(p: Problem, answer: str, fmt: str = "auto"):
    """The bounded parse: raises AnswerError (syntax, too_complex) pointing at the place."""
    return mp.parse(answer, fmt, names=_KNOWN_NAMES(p), functions=p.scope.callable_names())


# a problem's written names, ready for the lexer (made once per problem: its aliases are complete once read)
_KNOWN_NAMES = IdMemo(lambda p: tokens.KnownNames(p.scope.aliases), limit=256)


def readings(p: Problem, answer: str, fmt: str = "auto") -> list:
    """[(tree, notes)]: the natural reading first, then the other readings of ambiguous juxtapositions
    (mathparse.readings: f3'(…) as a product, f1(…) with f1 at its node, in node notation only)."""
    nodes = p.scope.single_nodes & frozenset(p.scope.node_inputs)
    return alternatives.readings(answer, fmt, names=_KNOWN_NAMES(p), functions=p.scope.callable_names(), nodes=nodes)


def parsed_readings(p: Problem, answer: str, tree) -> list | None:
    """The natural reading of readings(p, answer, fmt) from parse_answer's tree of the same text and
    format, where they are the same: with no function of a single node, the parser meets no ambiguous
    juxtaposition (its first reading is parse_answer's), and without sum or mean no Matlab reading
    comes first; else None. (Readings after the first, numpy's * where .T shows, are left out:
    job.settle tries the natural reading alone.)"""
    if p.scope.single_nodes & frozenset(p.scope.node_inputs) or "sum" in answer or "mean" in answer:
        return None
    return [(tree, ())]


class AnswerBuilder(reader.Builder):
    """The problem's builder, plus index names: P_i is the vector P when i is the quantity's free
    index (exact for entrywise formulas); with two indices (dP_j/dh_i, entry (j, i)) P_j is P 1ᵀ,
    P_i is 1 Pᵀ and delta_ij the identity, and every product is entrywise."""

    lazy = True      # an answer's matrices: no canonical rewriting (the decision is numeric)

    def __init__(self, scope, text, indices=(), size=None):
        super().__init__(scope, text)
        self.indices, self.size = indices, size
        self.reductions = {}        # name of a 1x1 stand-in -> the vector whose max it is

    def _build_Name(self, node):
        if node.id == "I" and "I" not in self.scope.symbols and self.size is not None:
            return sp.Identity(self.size)           # the identity, sized like the quantity
        m = re.fullmatch(r"I_?\{?([A-Za-z][A-Za-z0-9_]*)\}?", node.id)
        if m and node.id not in self.scope.symbols and m.group(1) in self.scope.dims:
            return sp.Identity(self.scope.dims[m.group(1)])     # I_K: the identity of size K
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*?)_?\{?([a-z]{1,2})\}?", node.id)
        if self.indices and m and node.id not in self.scope.symbols and node.id not in self.scope.aliases:
            base, idx = m.groups()
            if base in ("delta", "KroneckerDelta") and len(idx) == 2 and set(idx) == set(self.indices) \
                    and len(self.indices) == 2:
                return sp.Identity(self.size)
            sym = self.scope.symbols.get(self.scope.aliases.get(base, base))
            if sym is not None and "_" in node.id and len(idx) == 1:
                if idx not in self.indices:
                    raise AnswerError(f"index {idx} is not free in this quantity; use "
                                      f"{' and '.join(self.indices)}", node.pos, code="unknown_symbol",
                                      text=self.text)
                return self.indexed(sym, idx, node)
        return super()._build_Name(node)

    def _build_Call(self, node):
        """sum(expr, k) over a bound index k: with no free index the summand is a vector over k;
        with free index i it is a matrix (i down, k across, as for two free indices), summed along k."""
        bound = node.args[1] if node.fn == "sum" and len(node.args) == 2 else None
        if not (isinstance(bound, mp.Name) and re.fullmatch(r"[a-z]", bound.id)
                and bound.id not in self.scope.symbols):
            return super()._build_Call(node)
        k = bound.id
        if k in self.indices:
            raise AnswerError(f"the summation index {k} is also the free index; sum over another letter",
                              bound.pos, code="syntax", text=self.text)
        if len(self.indices) > 1 or self.size is None:
            raise AnswerError("a sum over an index is understood only in answers with at most one free "
                              "index, over a vector of this problem", node.pos, code="too_complex", text=self.text)
        inner = AnswerBuilder(self.scope, self.text, self.indices + (k,), self.size)
        body = inner.build(node.args[0])
        self.reductions.update(inner.reductions)
        if node.bounds and isinstance(body, MatrixExpr):      # \sum_{k=2}^{N}: not the whole range
            spans(k, node.bounds, body.shape[1 if self.indices else 0], self.scope.dims, lambda m: self.fail(m, node))
        if not isinstance(body, MatrixExpr):
            return body * self.size                  # a summand without k: N copies
        if not self.indices:
            return sy.total(body)
        return body * sy.ones(body.shape[1], 1)

    def indexed(self, sym, idx, node):
        shape = sy.shape_of(sym)
        if shape is None or shape == (1, 1):
            return sym
        if 1 not in shape:
            raise self.fail(f"{sym} is a matrix; an entry needs two indices", node)
        v = sym if shape[1] == 1 else sym.T
        if len(self.indices) == 1:
            return v
        n = v.shape[0]
        return v * sy.ones(1, n) if idx == self.indices[0] else sy.ones(n, 1) * v.T

    def product(self, a, b, node):
        if self.indices:
            return self.elementwise("hadamard", a, b, node)
        return super().product(a, b, node)

    def power(self, a, b, node, entrywise: bool = False):
        if self.indices and a == sp.E and isinstance(b, MatrixExpr):      # e^{z_i}: entrywise
            return fns.apply("exp", 0, b)
        return super().power(a, b, node, entrywise)

    def matrix_function(self, name, args, node):
        """max(z) of one vector: its largest entry (the stable softmax subtracts it)."""
        if name == "max" and len(args) == 1 and isinstance(args[0], MatrixExpr) and 1 in args[0].shape:
            m = sp.MatrixSymbol(f"max({args[0]})", 1, 1)
            self.reductions[str(m)] = args[0]
            return m
        return super().matrix_function(name, args, node)


def echo(tree) -> sp.Expr:
    """A scalar SymPy echo of an index-form answer, for the 'interpreted as' line."""
    if isinstance(tree, mp.Num):
        return sp.Rational(Fraction(tree.text))
    if isinstance(tree, mp.Name):
        return sp.Symbol(tree.id)
    if isinstance(tree, mp.Neg):
        return -echo(tree.operand)
    if isinstance(tree, mp.Transpose):
        return echo(tree.operand)
    if isinstance(tree, mp.Call):
        f = sp.Function(tree.fn + "'" * tree.order)
        return f(*[echo(a) for a in tree.args]) if tree.args else sp.Symbol(tree.fn + "'" * tree.order)
    a, b = echo(tree.left), echo(tree.right)
    if tree.op == "^":
        if b.is_Number and abs(b) > reader.MAX_EXPONENT:
            raise ValueError("exponent too large")
        return sp.Pow(a, b, evaluate=False)
    return {"+": lambda: a + b, "-": lambda: a - b, "/": lambda: a / b}.get(tree.op, lambda: a * b)()


def interpreted(expr, tree, indices) -> str:
    try:
        if indices:
            return sp.latex(echo(tree))
        return latex(expr)
    except Exception:                 # the echo is a courtesy; never fail a check over it
        return ""


def own_symbol(p: Problem, r):
    """The symbol that names the asked quantity itself (dL/dw1, delta3, z), if it is one."""
    return r.quantity.kind.own_symbol(p, r.quantity)


def names(tree):
    """The Name nodes the student wrote (a bare f3' writes no names)."""
    return (n for n in mp.walk(tree) if isinstance(n, mp.Name))


def bound_indices(tree) -> set:
    """k in sum(expr, k) and \\sum_k."""
    return {n.args[1].id for n in mp.walk(tree) if isinstance(n, mp.Call) and n.fn in mp.BIGOPS
            and len(n.args) == 2 and isinstance(n.args[1], mp.Name)}


def not_allowed(p: Problem, q, tree, builder) -> list:
    if not q.allowed:
        return []
    bound = bound_indices(tree)
    indices = bound | set(getattr(builder, "indices", ()))

    def canon(name):
        m = re.fullmatch(r"(.+?)_\{?([a-z]{1,3})\}?", name)
        if m and (set(m.group(2)) <= indices or getattr(builder, "entries", False)):    # z_k: an entry of z
            name = m.group(1)
        try:
            return str(builder._build_Name(mp.Name(name)))
        except (AnswerError, AttributeError, TypeError):
            return name
    allowed = {canon(n) for n in q.allowed}
    used = {}
    for n in names(tree):
        if n.id in bound:
            continue
        c = canon(n.id)
        if c not in allowed and n.id not in p.scope.dims and n.id != "e":
            used[c] = n.id
    return sorted(used.values(), key=reader._natural)


# ---- a plain answer: decided in the calling process when it is right (checker.Checker, inline) ------
PLAIN_NODES = 40             # nodes of the syntax tree
PLAIN_POWER = 4              # largest |n| of a power x^n


def plain(p: Problem, q, tree) -> bool:
    """A small answer whose building and evaluation are bounded by its size: names, numbers, sums,
    products, quotients, negation, transposes, small whole powers (of no power) and the scalar functions (an
    activation or the problem's own), in a quantity without indices. Anything else (sums over an
    index, max, diag, powers of expressions, long answers) is only ever graded in a worker, under
    the hard time limit."""
    if indices(q):
        return False
    count, stack = 0, [tree]
    own = p.scope.functions
    while stack:
        node = stack.pop()
        count += 1
        if count > PLAIN_NODES:
            return False
        if isinstance(node, (mp.Num, mp.Name)):
            continue
        if isinstance(node, (mp.Neg, mp.Transpose)):
            stack.append(node.operand)
        elif isinstance(node, mp.BinOp) and node.op in ("+", "-", "*", "/", "hadamard"):
            stack += (node.left, node.right)
        elif isinstance(node, mp.BinOp) and node.op == "^":
            if not (isinstance(node.right, mp.Num) and node.right.text.isdigit()
                    and int(node.right.text) <= PLAIN_POWER) or any(
                    isinstance(n, mp.BinOp) and n.op == "^" for n in mp.walk(node.left)):
                return False             # ((1/3)^4)^4…: a power of a power grows without bound
            stack.append(node.left)
        elif isinstance(node, mp.Call):
            name = fns.FUNCTION_ALIASES.get(node.fn, node.fn)
            if len(node.args) > 1 or not (name in fns.ACTIVATIONS or node.fn in own):
                return False
            stack += node.args
        else:
            return False
    return True


_SHAPE_SEP = re.compile(r"\s*(?:×|\\times|,|\bby\b|(?<=[\w)}\s])x(?=[\s\d({]))\s*")


def shape_pieces(p: Problem, answer: str, fmt: str = "auto") -> list:
    """'1024 x 32', '(C, 28, 28)', '28 \times 28 \times C' -> [(offset, tree), ...], each bounded-parsed."""
    if len(answer) > tokens.MAX_LENGTH:
        raise AnswerError(f"the answer is longer than {tokens.MAX_LENGTH} characters", tokens.MAX_LENGTH, code="too_complex")
    m = re.fullmatch(r"\s*[(\[]?(.*?)[)\]]?\s*", answer, re.S)
    body, start = m.group(1), m.start(1)
    pieces, pos = [], 0
    for sep in list(_SHAPE_SEP.finditer(body)) + [None]:
        end = sep.start() if sep else len(body)
        text = body[pos:end]
        if not text.strip():
            raise AnswerError("a shape is dimensions separated by ×, x or commas, as in 1024 x 32",
                              start + pos, text=answer)
        try:
            pieces.append((start + pos, text, parse_answer(p, text, fmt)))
        except AnswerError as e:
            raise AnswerError(e.message, start + pos + (e.offset or 0), code=e.code, text=answer) from None
        pos = sep.end() if sep else len(body)
    return pieces


# ---- the problem's order: an answer builds only on what comes before it ---------------------------
_FORWARD, _JACOBIAN, _BACKWARD = 0, 1, 2
_PASS = {_FORWARD: "the forward pass", _JACOBIAN: "the forward pass", _BACKWARD: "the backward pass"}


def order(p: Problem, derivation) -> dict:
    """Symbol name -> its place in the problem's order: forward values in the forward pass, then
    the asked Jacobians, then gradients in the backward pass (the engine's order). Inputs and given
    gradients have no place: every answer may use them."""
    rank = {e.name: (_FORWARD, i) for i, e in enumerate(p.equations)}
    at = {e.name: i for i, e in enumerate(p.equations)}          # an input: -1
    for q in p.quantities:
        if q.kind.name_is_symbol:         # dA/dB after dA/dC for C nearer A: dz2/dx = dz2/dz1 dz1/dx
            rank[q.name] = (_JACOBIAN, at.get(q.of, -1), -at.get(q.wrt, -1), q.name)
    for i, node in enumerate(derivation.adjoints):
        rank[p.adjoint_names[node]] = (_BACKWARD, i)
    return rank


_ORDERS = IdMemo(lambda derivation: order(derivation.problem, derivation), limit=256)   # read only


def place(p: Problem, rank: dict, q) -> tuple | None:
    """The quantity's own place in that order (None: a shape or prose, which builds on nothing asked)."""
    if q.kind.name_is_symbol:
        return rank.get(q.name)
    if q.kind.asks_gradient and q.wrt in p.adjoint_names:
        return rank.get(p.adjoint_names[q.wrt])
    if q.of and q.of in {e.name for e in p.equations}:
        return rank.get(q.of)
    return None


def not_yet(p: Problem, derivation, q, tree) -> list:
    """(name as written, why) for every quantity the answer uses that does not come before q in the
    problem's order: itself or a later one would make an answer circular (delta4 = drho/db3 with
    drho/db3 = delta4 is right against the truth, and says nothing)."""
    rank = _ORDERS(derivation)
    if derivation.problem is not p:
        rank = order(p, derivation)
    mine = place(p, rank, q)
    if mine is None:
        return []
    bound = bound_indices(tree)
    out, seen = [], set()
    for n in names(tree):
        if n.id in bound or n.id in seen:
            continue
        seen.add(n.id)
        name = p.scope.aliases.get(n.id, n.id)
        m = re.fullmatch(r"(.+?)_\{?([a-z]{1,2})\}?", name)
        if name not in rank and m:                    # z_i: an entry of z
            name = p.scope.aliases.get(m.group(1), m.group(1))
        theirs = rank.get(name)
        if theirs is None or theirs < mine:
            continue
        if theirs == mine:
            why = f"{q.name} cannot be answered in terms of {n.id}, which is {q.name} itself"
        else:
            where = _PASS[theirs[0]] if theirs[0] == mine[0] else "the problem's order"
            why = (f"{n.id} is not allowed yet in {q.name}: it comes after {q.name} in {where}, so an "
                   f"answer may not build on it (use only quantities computed before {q.name})")
        out.append((n.id, why))
    return out
