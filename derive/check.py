"""One student answer -> CheckResult: parse -> build -> symbols allowed? -> shape -> numbers -> diagnosis.

The decision is numeric: the answer and the derived reference are evaluated by the tree-walking
evaluator (numeric.py) at several random points and dimension sizes, and compared with a relative
tolerance. Student text is never given to eval, sympify or lambdify. Parsing, with its bounds
on length, depth, digits and exponents, runs in the calling process; building and evaluating run
in a forked worker (sandbox.py) under a hard wall-clock limit that holds even inside a C-level
big-integer operation.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from itertools import combinations

import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from . import mathparse as mp
from . import symbolic as sy
from .errors import AnswerError, DeriveError
from .problem import Problem, load, load_file

DEFAULT_TIMEOUT = 2.0        # seconds of wall clock per check
TOLERANCE = 1e-6             # relative, at random points
TRIALS = 4                   # random points (alternating dimension sizes) that must agree
MAX_DRAWS = 10               # points drawn at most, redrawing on NaN / overflow
INVALID_CODES = {"syntax", "unknown_symbol", "too_complex", "not_allowed"}
VERDICTS = ("correct", "incorrect", "invalid", "undecided")


@dataclass(frozen=True)
class CheckResult:
    problem: str
    quantity: str
    answer: str
    verdict: str                         # correct | incorrect | invalid | undecided
    diagnosis: tuple = ()                # codes: sign, constant_factor, transpose, shape, ...
    feedback: tuple = ()                 # one helpful sentence each
    interpreted: str = ""                # LaTeX of what was understood
    offset: int | None = None            # where in the answer the trouble is (0-based)

    @property
    def correct(self) -> bool:
        return self.verdict == "correct"

    @property
    def score(self) -> float:
        return 1.0 if self.correct else 0.0

    def to_dict(self) -> dict:
        return {"problem": self.problem, "quantity": self.quantity, "answer": self.answer,
                "verdict": self.verdict, "correct": self.correct, "score": self.score,
                "diagnosis": list(self.diagnosis), "feedback": list(self.feedback),
                "interpreted": self.interpreted, "offset": self.offset}


# ---- the calling process: load, parse (bounded), hand over to the worker -------------------
@lru_cache(maxsize=32)
def _load(name: str, extra) -> Problem:
    return load(name, extra)


def _indices(q) -> tuple:
    """Free indices of an index quantity: () for dL/dW, ('i',) for dL/dh_i, ('j', 'i') for dP_j/dh_i."""
    if not q.index:
        return ()
    m = re.match(r"^d[A-Za-z][A-Za-z0-9^]*_([a-z])/", q.name)
    return (m.group(1), q.index) if m else (q.index,)


def parse_answer(p: Problem, answer: str, fmt: str = "auto"):
    """The bounded parse: raises AnswerError (syntax, too_complex) pointing at the place."""
    return mp.parse(answer, fmt, names=p.scope.aliases, functions=p.scope.callable_names())


def check(problem, quantity: str, answer: str, format: str = "auto", *, timeout: float = DEFAULT_TIMEOUT,
          extra=None) -> CheckResult:
    """Check one answer. Unknown problems and quantities raise UnknownError; everything about the
    answer itself comes back as a CheckResult, never as an exception."""
    p = problem if isinstance(problem, Problem) else _load(str(problem), extra)
    q = p.quantity(quantity)
    base = dict(problem=p.id, quantity=q.name, answer=answer if isinstance(answer, str) else repr(answer))
    if q.kind == "prose":
        return CheckResult(**base, verdict="undecided",
                           feedback=("this question is not auto-graded; compare with the model answer: "
                                     + " ".join(q.model_answer.split()),))
    try:
        if q.kind == "shape":
            _shape_pieces(p, answer, format)
        else:
            parse_answer(p, answer, format)
    except AnswerError as e:
        return CheckResult(**base, verdict="invalid", diagnosis=(e.code,), feedback=(e.message,),
                           offset=e.offset)
    from . import sandbox
    out = sandbox.run(_job, (p.path, q.name, answer, format), timeout=timeout,
                      prepare=(_reference, (p.path,)))
    if out is None:
        return CheckResult(**base, verdict="undecided", diagnosis=("timeout",),
                           feedback=(f"the check took longer than {timeout:g} s and was stopped; "
                                     "write the answer in a simpler form",))
    if isinstance(out, BaseException) or not isinstance(out, dict):
        return CheckResult(**base, verdict="undecided", feedback=(f"the answer could not be evaluated "
                                                                  f"({type(out).__name__}: {out})",))
    return CheckResult(**base, **out)


# ---- the worker: reference values, building, evaluating, diagnosing ------------------------
@dataclass
class Reference:
    problem: Problem
    derivation: object
    trials: list = field(default_factory=list)     # (Instance, full env), drawn lazily
    values: dict = field(default_factory=dict)     # (quantity, trial) -> reference value
    random_trials: list = field(default_factory=list)   # formula quantities of a problem with values


@lru_cache(maxsize=32)
def _reference(path: str) -> Reference:
    from .backprop import derive
    p = load_file(path)
    return Reference(p, derive(p))


def _trial(ref: Reference, k: int, random: bool = False):
    """The k-th numeric instantiation: the given values for problems that give them, else random
    (always random for a formula, which must hold beyond the given values)."""
    from . import verify as V
    p = ref.problem
    trials = ref.random_trials if random and p.values else ref.trials
    while len(trials) <= k:
        n = len(trials)
        if p.values and not random:
            if n > 0:
                return None
            inst = V.instance(p, 0, use_values=True)
            env = V.forward(p, inst)
        else:
            for attempt in range(20):
                inst = V.instance(p, 7919 * (n + 1) + attempt, V.SIZES[n % len(V.SIZES)])
                env = V.forward(p, inst)
                if not V.near_kink(p, inst, env):
                    break
        trials.append((inst, V.adjoint_values(ref.derivation, inst, env)))
    return trials[k]


def _ref_value(ref: Reference, r, k: int):
    from .numeric import evaluate
    key = (r.quantity.name, k)
    if key not in ref.values:
        inst, env = _trial(ref, k, r.quantity.kind == "formula")
        ref.values[key] = np.asarray(evaluate(r.closed, env, inst.dims, inst.functions), dtype=float)
    return ref.values[key]


class AnswerBuilder(sy.Builder):
    """The problem's builder, plus index names: P_i is the vector P when i is the quantity's free
    index (exact for entrywise formulas); with two indices (dP_j/dh_i, entry (j, i)) P_j is P 1ᵀ,
    P_i is 1 Pᵀ and delta_ij the identity, and every product is entrywise."""

    def __init__(self, scope, text, indices=(), size=None):
        super().__init__(scope, text)
        self.indices, self.size = indices, size
        self.reductions = {}        # name of a 1x1 stand-in -> the vector whose max it is

    def _build_Name(self, node):
        if node.id == "I" and "I" not in self.scope.symbols and self.size is not None:
            return sp.Identity(self.size)           # the identity, sized like the quantity
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

    def power(self, a, b, node):
        if self.indices and a == sp.E and isinstance(b, MatrixExpr):      # e^{z_i}: entrywise
            return sy.apply("exp", 0, b)
        return super().power(a, b, node)

    def matrix_function(self, name, args, node):
        """max(z) of one vector: its largest entry (the stable softmax subtracts it)."""
        if name == "max" and len(args) == 1 and isinstance(args[0], MatrixExpr) and 1 in args[0].shape:
            m = sp.MatrixSymbol(f"max({args[0]})", 1, 1)
            self.reductions[str(m)] = args[0]
            return m
        return super().matrix_function(name, args, node)


def _echo(tree) -> sp.Expr:
    """A scalar SymPy echo of an index-form answer, for the 'interpreted as' line."""
    if isinstance(tree, mp.Num):
        return sp.Rational(Fraction(tree.text))
    if isinstance(tree, mp.Name):
        return sp.Symbol(tree.id)
    if isinstance(tree, mp.Neg):
        return -_echo(tree.operand)
    if isinstance(tree, mp.Transpose):
        return _echo(tree.operand)
    if isinstance(tree, mp.Call):
        f = sp.Function(tree.fn + "'" * tree.order)
        return f(*[_echo(a) for a in tree.args]) if tree.args else sp.Symbol(tree.fn + "'" * tree.order)
    a, b = _echo(tree.left), _echo(tree.right)
    if tree.op == "^":
        if b.is_Number and abs(b) > sy.MAX_EXPONENT:
            raise ValueError("exponent too large")
        return sp.Pow(a, b, evaluate=False)
    return {"+": lambda: a + b, "-": lambda: a - b, "/": lambda: a / b}.get(tree.op, lambda: a * b)()


def _job(path: str, qname: str, answer: str, fmt: str) -> dict:
    """The checked verdict as CheckResult fields (runs in the worker)."""
    ref = _reference(path)
    p = ref.problem
    r = ref.derivation.result(qname)
    q = r.quantity
    if q.kind == "shape":
        return _shape_job(ref, r, answer, fmt)
    indices = _indices(q)
    try:
        tree = parse_answer(p, answer, fmt)
        size = r.closed.shape[0] if isinstance(r.closed, MatrixExpr) else None
        builder = AnswerBuilder(p.scope, answer, indices, size)
        expr = builder.build(tree)
    except AnswerError as e:
        verdict = "invalid" if e.code in INVALID_CODES else "incorrect"
        return dict(verdict=verdict, diagnosis=(e.code,), feedback=(e.message,), offset=e.offset)
    interpreted = _interpreted(expr, tree, indices)
    own = _own_symbol(p, r)
    if own is not None and isinstance(expr, sp.Basic) and own in expr.free_symbols:
        return dict(verdict="invalid", diagnosis=("not_allowed",), interpreted=interpreted,
                    feedback=(f"{q.name} cannot be answered in terms of {own} itself",))
    bad = _not_allowed(p, q, tree, builder)
    if bad:
        return dict(verdict="invalid", diagnosis=("not_allowed",), interpreted=interpreted,
                    feedback=(f"{q.name} must be written with {', '.join(q.allowed)} only; "
                              f"the answer uses {', '.join(bad)}",))
    if q.kind == "property":
        from .properties import grade
        res = grade(p, q, expr, ref.derivation, answer)
        return dict(verdict="correct" if res.passed else "incorrect", feedback=res.feedback,
                    interpreted=interpreted)
    verdict, diagnosis, feedback = _decide(ref, r, expr, answer, tree, indices, builder.reductions)
    return dict(verdict=verdict, diagnosis=tuple(diagnosis), feedback=tuple(feedback), interpreted=interpreted)


_SHAPE_SEP = re.compile(r"\s*(?:×|\\times|,|\bby\b|(?<=[\w)}\s])x(?=[\s\d({]))\s*")


def _shape_pieces(p: Problem, answer: str, fmt: str = "auto") -> list:
    """'1024 x 32', '(C, 28, 28)', '28 \times 28 \times C' -> [(offset, tree), ...], each bounded-parsed."""
    if len(answer) > mp.MAX_LENGTH:
        raise AnswerError(f"the answer is longer than {mp.MAX_LENGTH} characters", mp.MAX_LENGTH, code="too_complex")
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


def _shape_job(ref: Reference, r, answer: str, fmt: str) -> dict:
    """A shape answer: the same dimensions, in the asked order (or an accepted alternative)."""
    from .numeric import evaluate
    p, q = ref.problem, r.quantity
    try:
        pieces = _shape_pieces(p, answer, fmt)
        got = [AnswerBuilder(p.scope, text).build(tree) for _, text, tree in pieces]
    except AnswerError as e:
        verdict = "invalid" if e.code in INVALID_CODES else "incorrect"
        return dict(verdict=verdict, diagnosis=(e.code,), feedback=(e.message,), offset=e.offset)
    from .render.printer import text as show
    interpreted = r" \times ".join(sp.latex(g) for g in got)
    want = list(r.closed)
    free = set().union(*(d.free_symbols for d in want + got)) - {sp.Symbol(k, real=True) for k in p.values}
    rng = np.random.default_rng(11)
    draws = [{**p.values, **{str(s): float(rng.integers(2, 50)) for s in free}} for _ in range(3)]

    def nums(dims, env):
        out = []
        for d in dims:
            v = np.asarray(evaluate(d, env, {}, {}), dtype=float) if d.free_symbols else float(d)
            out.append(float(np.asarray(v).reshape(-1)[0]))
        return out

    def same(a, b):
        return len(a) == len(b) and all(all(abs(x - y) <= 1e-9 * (1 + abs(y)) for x, y in zip(nums(a, e), nums(b, e)))
                                        for e in draws)
    name = "×".join(show(d) for d in want)
    if same(got, want):
        return dict(verdict="correct", feedback=(f"correct: {name}",), interpreted=interpreted)
    from .backprop import _value_subs
    for alt in (tuple(d.xreplace(_value_subs(p)) for d in a) for a in q.alternatives):
        if same(got, list(alt)):
            return dict(verdict="correct", feedback=(f"correct: {'×'.join(show(d) for d in alt)} "
                                                     f"(also written {name})",), interpreted=interpreted)
    if len(got) != len(want):
        return dict(verdict="incorrect", diagnosis=("shape",), interpreted=interpreted,
                    feedback=(f"{q.name} has {len(want)} dimensions ({name}); the answer has {len(got)}",))
    from itertools import permutations
    for perm in permutations(range(len(got))):
        if list(perm) != list(range(len(got))) and same([got[k] for k in perm], want):
            code = "transpose" if len(got) == 2 else "layout"
            return dict(verdict="incorrect", diagnosis=(code,), interpreted=interpreted,
                        feedback=(f"the right dimensions in the wrong order: {q.name} is {name}",))
    e = draws[0]
    wrong = [k for k, (x, y) in enumerate(zip(nums(got, e), nums(want, e))) if abs(x - y) > 1e-9 * (1 + abs(y))]
    k = wrong[0]
    return dict(verdict="incorrect", diagnosis=("shape",), interpreted=interpreted,
                feedback=(f"dimension {k + 1} is {show(got[k])}, not {show(want[k])}",))


def _interpreted(expr, tree, indices) -> str:
    try:
        if indices:
            return sp.latex(_echo(tree))
        from .render.printer import latex
        return latex(expr)
    except Exception:                 # the echo is a courtesy; never fail a check over it
        return ""


def _own_symbol(p: Problem, r):
    """The symbol that names the asked quantity itself (dL/dw1, delta3, z), if it is one."""
    q = r.quantity
    if q.kind in ("value", "property"):
        return p.scope.symbols.get(q.of)
    if q.kind == "gradient" and q.wrt in p.adjoint_names and not q.index:
        return p.scope.symbols.get(p.adjoint_names[q.wrt])
    return None


def _nodes(tree):
    """Every node of a syntax tree."""
    yield tree
    for child in (getattr(tree, "operand", None), getattr(tree, "left", None), getattr(tree, "right", None),
                  *getattr(tree, "args", ())):
        if child is not None:
            yield from _nodes(child)


def _names(tree):
    """The Name nodes the student wrote (a bare f3' writes no names)."""
    return (n for n in _nodes(tree) if isinstance(n, mp.Name))


def _bound_indices(tree) -> set:
    """k in sum(expr, k) and \\sum_k."""
    return {n.args[1].id for n in _nodes(tree) if isinstance(n, mp.Call) and n.fn == "sum"
            and len(n.args) == 2 and isinstance(n.args[1], mp.Name)}


def _not_allowed(p: Problem, q, tree, builder) -> list:
    if not q.allowed:
        return []
    bound = _bound_indices(tree)
    indices = bound | set(getattr(builder, "indices", ()))

    def canon(name):
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*?)_\{?([a-z]{1,2})\}?", name)
        if m and set(m.group(2)) <= indices:         # z_k: an entry of z
            name = m.group(1)
        try:
            return str(builder._build_Name(mp.Name(name)))
        except (AnswerError, AttributeError, TypeError):
            return name
    allowed = {canon(n) for n in q.allowed}
    used = {}
    for n in _names(tree):
        if n.id in bound:
            continue
        c = canon(n.id)
        if c not in allowed and n.id not in p.scope.dims and n.id != "e":
            used[c] = n.id
    return sorted(used.values(), key=sy._natural)


def _conform(a, b, indexed: bool):
    """a reshaped to b's shape where that is exact (scalar vs 1x1, scalar broadcast in index form)."""
    a = np.asarray(a, dtype=float)
    if a.shape == b.shape:
        return a
    if a.size == 1 and (b.size == 1 or indexed):
        return np.full(b.shape, float(a.reshape(-1)[0]))
    if b.size == 1 and a.size == 1:
        return a.reshape(b.shape)
    return None


def _rel(a, b) -> float:
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    d = np.linalg.norm(a - b)
    return float(d / scale) if scale > 1e-12 else float(d)


def _decide(ref: Reference, r, expr, answer: str, tree, indices, reductions=None):
    from .numeric import EvalError, evaluate
    p = ref.problem
    formula = r.quantity.kind == "formula"
    at_values = bool(p.values) and not formula
    rows = []            # (a, b, inst, env) at usable points
    shape_bad = None
    for k in range(MAX_DRAWS):
        t = _trial(ref, k, formula)
        if t is None:
            break
        inst, env = t
        b = _ref_value(ref, r, k)
        try:
            if reductions:
                env = {**env, **{n: np.array([[np.max(evaluate(v, env, inst.dims, inst.functions))]])
                                 for n, v in reductions.items()}}
            a = np.asarray(evaluate(expr, env, inst.dims, inst.functions), dtype=float)
        except (EvalError, KeyError) as e:
            return "undecided", [], [f"the answer could not be evaluated: {e}"]
        except (ValueError, TypeError, ArithmeticError) as e:
            return "undecided", [], [f"the answer could not be evaluated ({type(e).__name__})"]
        if not (np.all(np.isfinite(b))):
            continue
        a2 = _conform(a, b, bool(indices))
        if a2 is None:
            shape_bad = (a, b)
            rows.append((a, b, inst, env))
            break
        if not np.all(np.isfinite(a2)):
            continue
        rows.append((a2, b, inst, env))
        if len(rows) >= TRIALS:
            break
    if shape_bad:
        return _shape_verdict(p, r, expr, *shape_bad)
    if not rows:
        return "undecided", [], ["the answer has no finite value at any point tried (overflow or NaN); "
                                 "cannot decide"]
    errs = [_rel(a, b) for a, b, _, _ in rows]
    if all(e <= TOLERANCE for e in errs):
        if at_values:
            return "correct", [], [f"correct: {_num(rows[0][0])} at the given values"]
        return "correct", [], [f"correct: matches the derived {r.quantity.name} at {len(rows)} random points"]
    if at_values and _rounded_ok(tree, answer, rows[0][1]):
        return "correct", [], [f"correct to the {len(_decimals(answer))} decimals given"]
    if not at_values and len(rows) < 2:
        return "undecided", [], ["too few points where the answer has a finite value; cannot decide"]
    diagnosis, feedback = _diagnose(ref, r, rows, indices)
    if not feedback:
        if at_values:
            feedback = [f"at the given values the answer is {_num(rows[0][0])}, which is not {r.quantity.name}"]
        else:
            feedback = [f"the answer differs from {r.quantity.name} at random values of the inputs "
                        f"(relative error {max(errs):.2g})"]
    return "incorrect", diagnosis, feedback


def _num(a) -> str:
    a = np.asarray(a).reshape(-1)
    return f"{a[0]:.6g}" if a.size == 1 else "[" + ", ".join(f"{v:.4g}" for v in a[:6]) + "]"


def _decimals(answer: str) -> str:
    m = re.fullmatch(r"\s*[-+−]?\s*\d*\.(\d+)\s*", answer)
    return m.group(1) if m else ""


def _rounded_ok(tree, answer: str, b) -> bool:
    """A plain number with at least three significant digits that equals the value rounded."""
    dec = _decimals(answer)
    digits = re.sub(r"\D", "", answer).lstrip("0")
    if not dec or len(digits) < 3 or np.size(b) != 1:
        return False
    want = float(np.asarray(b).reshape(-1)[0])
    got = float(answer.replace("−", "-").replace(" ", ""))
    return abs(got - want) <= 0.5 * 10 ** -len(dec) + 1e-12


def _shape_verdict(p, r, expr, a, b):
    from .render.printer import shape_text
    want = sy.shape_of(r.closed)
    got = sy.shape_of(expr)
    show = lambda s: "a scalar" if s is None else shape_text(s)   # noqa: E731
    if a.T.shape == b.shape and _rel(a.T, b) <= TOLERANCE:
        return "incorrect", ["transpose"], [f"{r.quantity.name} is {show(want)} but the answer is "
                                            f"{show(got)}: it is the transpose of the right answer"]
    if a.T.shape == b.shape:
        return "incorrect", ["shape"], [f"{r.quantity.name} is {show(want)} but the answer is {show(got)}; "
                                        "a transpose is missing, and even transposed the values differ"]
    return "incorrect", ["shape"], [f"{r.quantity.name} is {show(want)} but the answer is {show(got)}"]


def _parts(e, kind):
    """Terms (kind='add') or factors (kind='mul') of a reference expression."""
    if kind == "add":
        return list(e.args) if isinstance(e, (sp.Add, sp.MatAdd)) else []
    if isinstance(e, (sp.Mul, sp.HadamardProduct)):
        return [f for f in e.args if not f.is_Number]
    if isinstance(e, sp.MatMul):
        return [f for f in e.args if not (getattr(f, "is_Number", False))
                and not isinstance(f, sp.MatMul) and sy.shape_of(f) in (None, (1, 1))]
    return []


def _values(e, rows, shape_like=True):
    from .numeric import evaluate
    out = []
    for a, b, inst, env in rows:
        v = np.asarray(evaluate(e, env, inst.dims, inst.functions), dtype=float)
        v2 = _conform(v, b, True) if v.shape != b.shape else v
        if v2 is None or not np.all(np.isfinite(v2)):
            return None
        out.append(v2)
    return out


def _all_close(xs, ys) -> bool:
    return all(_rel(x, y) <= 1e-6 for x, y in zip(xs, ys))


def _diagnose(ref: Reference, r, rows, indices):
    from .render.printer import text
    A = [a for a, _, _, _ in rows]
    B = [b for _, b, _, _ in rows]
    name = r.quantity.name
    if _all_close(A, [-b for b in B]):
        return ["sign"], ["the sign is wrong: the answer is the negative of the right one"]
    if any(a.ndim == 2 and a.shape[0] == a.shape[1] and a.size > 1 for a in A) and _all_close([a.T for a in A], B):
        return ["transpose"], ["the answer is the transpose of the right one"]
    if len(rows) == 1:                   # one point (the given values): only a slipped decimal point
        a, b = float(A[0].reshape(-1)[0]), float(B[0].reshape(-1)[0])
        ratio = a / b if b else 0.0
        for k in (-3, -2, -1, 1, 2, 3):
            if abs(abs(ratio) - 10.0 ** k) <= 1e-9 * 10.0 ** k:
                return ["constant_factor"], [f"off by a factor {10.0 ** k:g}: check the decimal point"]
        return [], []
    cs = [float(np.sum(a * b) / np.sum(b * b)) if np.sum(b * b) > 1e-24 else np.nan for a, b in zip(A, B)]
    if all(np.isfinite(cs)) and abs(cs[0]) > 1e-9 and all(abs(c - cs[0]) <= 1e-6 * abs(cs[0]) for c in cs) \
            and _all_close(A, [cs[0] * b for b in B]):
        c = Fraction(cs[0]).limit_denominator(1000)
        shown = str(c) if abs(float(c) - cs[0]) <= 1e-9 * abs(cs[0]) else f"{cs[0]:.4g}"
        return ["constant_factor"], [f"off by a constant factor: the answer is {shown} times {name}"]
    if len(indices) == 2 and all(np.allclose(np.diag(a), np.diag(b), rtol=1e-6, atol=1e-12) for a, b in zip(A, B)):
        return ["missing_term"], [f"right for {indices[1]} = {indices[0]} only; the case "
                                  f"{indices[1]} ≠ {indices[0]} is missing (write it with delta_{indices[1]}{indices[0]})"]
    for e in {r.closed, r.expr}:
        terms = _parts(e, "add")
        if 1 < len(terms) <= 6:
            tv = [_values(t, rows) for t in terms]
            if all(v is not None for v in tv):
                for size in range(1, len(terms)):
                    for sub in combinations(range(len(terms)), size):
                        s = [sum(tv[k][n] for k in sub) for n in range(len(rows))]
                        if _all_close(A, s):
                            return ["missing_term"], [f"a term is missing: {name} is a sum of {len(terms)} "
                                                      f"terms (one per path) and the answer has only {size}"]
    # factors: the ratio answer / reference against the reference's factors and the problem's values
    ok = all(np.all(np.abs(b) > 1e-9) for b in B)
    if ok:
        ratio = [a / b for a, b in zip(A, B)]
        cands = []
        for e in {r.closed, r.expr}:
            for f in _parts(e, "mul"):
                cands.append((text(f), f))
        env_names = [k for k in rows[0][3] if not k.startswith("__")]
        for k in env_names:
            cands.append((k, None))
        for label, f in cands:
            if f is not None:
                try:
                    vals = _values(f, rows)
                except Exception:
                    vals = None
            else:
                vals = []
                for a, b, inst, env in rows:
                    v = np.asarray(env[label], dtype=float)
                    v = v if v.shape == b.shape else (np.full(b.shape, float(v.reshape(-1)[0])) if v.size == 1 else None)
                    if v is None:
                        break
                    vals.append(v)
                if len(vals) != len(rows):
                    vals = None
            if not vals or any(np.any(np.abs(v) < 1e-12) for v in vals):
                continue
            if _all_close(ratio, [1 / v for v in vals]):
                return ["missing_factor"], [f"a factor is missing: the answer lacks {label}"]
            if _all_close(ratio, vals):
                return ["extra_factor"], [f"the answer has an extra factor {label}"]
    return [], []


# ---- the command line ---------------------------------------------------------------------
def cmd_check(args) -> int:
    from .cliutil import read_stdin, shown
    answer = read_stdin().strip() if args.answer == "-" else args.answer
    res = check(args.problem, args.quantity, answer, args.format, timeout=args.timeout, extra=args.problems)
    if args.json:
        print(json.dumps(res.to_dict(), indent=2, ensure_ascii=False))
    else:
        if res.interpreted:
            print(f"interpreted as: {shown(res.interpreted)}")
        if res.offset is not None and res.verdict == "invalid":
            print(f"  {shown(answer)}\n  {' ' * len(shown(answer[:res.offset]))}^")
        tags = f" [{', '.join(res.diagnosis)}]" if res.diagnosis else ""
        print(f"{res.verdict}{tags}")
        for line in res.feedback:
            print(f"  {shown(line)}")
    return {"correct": 0, "incorrect": 1}.get(res.verdict, 2)


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "check", help="check one answer to a quantity",
        description="Check a typed answer (plain text or LaTeX) against the derived, verified gradient. "
                    "Exit status: 0 correct, 1 incorrect, 2 invalid or undecided.",
        epilog="example: derive check problem1 dL/dw1 \"dL/dh3 * f3' * w3 * f1' * x\"   "
               "(an answer starting with '-' goes after --; ANSWER - reads standard input)")
    p.add_argument("problem", help="id (scalar-chain), alias (problem1) or a .toml file")
    p.add_argument("quantity", help="the quantity as the problem names it, e.g. dL/dw1")
    p.add_argument("answer", help="the answer; - reads it from standard input")
    p.add_argument("--format", choices=("auto", "text", "latex"), default="auto",
                   help="how to read the answer (auto: LaTeX if it has a backslash or a brace)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per check (default 2)")
    p.add_argument("--json", action="store_true", help="print the CheckResult as JSON")
    p.set_defaults(func=cmd_check)


__all__ = ["CheckResult", "check", "register_cli", "DeriveError"]
