"""Classic wrong answers, generated from the reference derivation itself.

For one derived quantity, `mutants` rewrites its reference expression once per site: flip the
sign (of the whole or of one term), drop one path of a sum, drop a factor, use f where f' belongs
(or f' at the wrong node), drop a constant (2, 1/N), transpose a factor or the whole, reverse a
product, replace ⊙ by a matrix product. Each mutant is plain text a student could type, the
diagnosis codes that name it, and its mistake in words, by role ("the term from the path through
h2 is missing"), not by the expression. A mutant whose shapes still conform keeps its SymPy form
(the checker's diagnosis matches answers against those); one that does not conform is text only.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.expr import functions as sy
from derive.expr import matrix as mx
from derive.expr.numeric import evaluate
from derive.notation.text import memo_text as text
from derive.verify import instances

CODES = {     # mutant kind -> the diagnoses that name it
    "sign": {"sign"}, "sign_term": {"sign"}, "drop_term": {"missing_term"},
    "drop_factor": {"missing_factor"}, "constant": {"constant_factor"},
    "derivative": {"derivative"}, "wrong_node": {"derivative"},
    "transpose": {"transpose", "shape", "layout"}, "reverse": {"order", "shape", "transpose"},
    "product": {"product", "shape"},
}
PRIMARY = {"sign": "sign", "sign_term": "sign", "drop_term": "missing_term", "drop_factor": "missing_factor",
           "constant": "constant_factor", "derivative": "derivative", "wrong_node": "derivative",
           "transpose": "transpose", "reverse": "order", "product": "product"}
MAX_TERMS = 6             # sums with more terms are not mutated term by term
MAX_PER_QUANTITY = 40


@dataclass(frozen=True)
class Mutant:
    quantity: str
    kind: str             # a key of CODES
    text: str             # plain text, as a student would type it
    expr: object          # SymPy when the shapes conform, else None (a shape error by construction)
    role: str             # the mistake, by role
    detail: object = ""   # the expression concerned (shown only when the answer may be revealed)
    also: frozenset = frozenset()   # codes of other mutants with the same values where it is graded

    @property
    def codes(self) -> frozenset:
        """The diagnoses that name it (another mistake that is indistinguishable names it too)."""
        return frozenset(CODES[self.kind]) | self.also


_SLOT = "MUTANTSLOT"
_BAD = object()           # a rewrite that does not make a well-formed wrong answer


def _with(root, target, replacement: str) -> str:
    """The text of root with the subexpression target written as `replacement`."""
    shape = mx.shape_of(target)
    slot = sp.MatrixSymbol(_SLOT, *shape) if shape else sp.Symbol(_SLOT)
    return text(root.xreplace({target: slot})).replace(_SLOT, f"({replacement})")


def _paren(e) -> str:
    s = text(e)          # a name (dL/dz) as it is; a quotient (e/L) in brackets
    return s if isinstance(e, (sp.Symbol, sp.MatrixSymbol)) or s.replace("_", "").isalnum() else f"({s})"


class Roles:
    """Which forward node a piece of the reference belongs to, to say a mistake by its role."""

    def __init__(self, problem):
        self.p = problem
        self.at = {}             # (fname, argument) -> the node that applies it
        for eq in problem.equations:
            for call in eq.expr.atoms(sy.Fn, sy.Apply):
                self.at.setdefault((call.fname, call.args[2]), eq.name)
        self.grad_of = {g: n for n, g in problem.adjoint_names.items()}
        self.dims = set(problem.scope.dims)
        self.uses = {}           # input name -> the nodes whose equation uses it
        for eq in problem.equations:
            for s in eq.expr.free_symbols:
                self.uses.setdefault(str(s), []).append(eq.name)

    def nodes(self, e) -> set:
        """The forward nodes a piece passes through: where its f' sit, whose gradients or weights it holds
        (not looking inside a function's argument, which only says where the function is evaluated)."""
        if isinstance(e, (sy.Fn, sy.Apply)):
            node = self.at.get((e.fname, e.args[2]))
            return {node} if node else set()
        if isinstance(e, (sp.Symbol, sp.MatrixSymbol)):
            name = str(e).rstrip("@")
            if name in self.grad_of:
                return {self.grad_of[name]}
            if any(eq.name == name for eq in self.p.equations):
                return {name}
            return set(self.uses.get(name, ())[:1]) if name not in self.dims else set()
        out = set()
        for a in e.args:
            if isinstance(a, sp.Basic):
                out |= self.nodes(a)
        return out

    def factor(self, f) -> str:
        if isinstance(f, (sy.Fn, sy.Apply)) and (f.fname, f.args[2]) in self.at:
            node = self.at[(f.fname, f.args[2])]
            return f"the local derivative at {node}" if f.order else f"the value of {node}"
        names = {str(s).rstrip("@") for s in f.free_symbols}
        for name in sorted(names):              # (a set's order changes with the process's string hashes)
            if name in self.grad_of:
                return f"the upstream gradient at {self.grad_of[name]}"
        nodes = sorted(self.nodes(f))
        return f"a factor coming from the step through {', '.join(nodes)}" if nodes else "a factor"

    def term(self, terms, k) -> str:
        mine = self.nodes(terms[k])
        others = [self.nodes(t) for i, t in enumerate(terms) if i != k]
        common = set.intersection(*others) if others else set()
        own = sorted(mine - common - {self.p.output})
        return f"the path through {', '.join(own)}" if own else f"one of {len(terms)}"


def _sites(e, roles, path=""):
    """(subexpression, the path it lies on) to mutate; not inside a function's argument."""
    yield e, path
    if isinstance(e, (sy.Fn, sy.Apply, sp.Pow, sp.HadamardPower)):
        return                      # an argument or a base says where, not which path
    terms = list(e.args) if isinstance(e, (sp.Add, sp.MatAdd)) else None
    for k, a in enumerate(e.args):
        if isinstance(a, sp.Basic) and not a.is_Atom:
            sub = roles.term(terms, k) if terms and len(terms) > 1 else path
            yield from _sites(a, roles, sub if sub.startswith("the path") else path)


def mutants(derivation, result, expr=None, with_text: bool = True) -> list[Mutant]:
    """The classic wrong answers to one result, from the shorter of its reference forms."""
    p = derivation.problem
    root = expr if expr is not None else reference_form(p, result)
    name = result.quantity.name
    roles = Roles(p)
    dims = set(p.scope.dims.values())
    out: list[Mutant] = []

    own = result.quantity.kind.own_symbol(p, result.quantity)
    entrywise = bool(result.quantity.index)     # an index quantity's products are entrywise

    def add(kind, txt, e, role, detail=""):
        if e is _BAD or (not with_text and e is None) or (entrywise and kind in ("transpose", "reverse", "product")):
            return
        if own is not None and e is not None and own in e.free_symbols:
            return                                  # an answer may not use the quantity's own name
        out.append(Mutant(name, kind, txt() if with_text else "", e, role, detail))

    def swap(target, new):
        """root with target replaced; _BAD when that changes a shape (the mutant is not one)."""
        if mx.shape_of(new) != mx.shape_of(target):
            return _BAD
        try:
            return root.xreplace({target: new})
        except (ValueError, TypeError, sp.ShapeError):
            return _BAD

    add("sign", lambda: f"-({text(root)})", -root, "the sign is wrong")
    shape = mx.shape_of(root)
    if shape and shape != (1, 1):
        add("transpose", lambda: f"({text(root)})^T", root.T if shape[0] == shape[1] else None,
            "the answer is transposed")
    for e, path in _sites(root, roles):
        on = f", on {path}" if path else ""
        if isinstance(e, (sp.Add, sp.MatAdd)) and 1 < len(e.args) <= MAX_TERMS:
            terms = list(e.args)
            for k, t in enumerate(terms):
                rest = [u for i, u in enumerate(terms) if i != k]
                role = roles.term(terms, k)
                of = "" if e == root else " of a sum inside it"
                count = f"{name} is a sum of {len(terms)} terms" if e == root else f"a sum inside {name} has {len(terms)} terms"
                missing = (f"a term is missing: the one from {role}{of} ({count})" if role.startswith("the path")
                           else f"a term is missing: {count} and the answer has only {len(terms) - 1}")
                flip = (f"the sign of one term is wrong: the one from {role}{of}" if role.startswith("the path")
                        else f"the sign of one term is wrong ({count})")
                add("drop_term", lambda: _with(root, e, text(sp.Add(*rest) if len(rest) > 1 else rest[0])),
                    swap(e, e.func(*rest) if len(rest) > 1 else rest[0]),
                    missing, t)
                if len(terms) > 1:
                    flipped = e.func(*rest, -t)
                    add("sign_term", lambda: _with(root, e, text(flipped)), swap(e, flipped),
                        flip, t)
        elif isinstance(e, sp.MatMul):
            _matmul_mutants(e, root, roles, dims, add, swap, on)
        elif isinstance(e, sp.Mul):
            _scalar_mutants(e, sp.Integer(1), root, roles, dims, add, swap, on)
        elif isinstance(e, sp.HadamardProduct):
            args = list(e.args)
            for k, f in enumerate(args):
                rest = args[:k] + args[k + 1:]
                new = mx.hadamard(*rest)
                add("drop_factor", lambda: _with(root, e, text(new)), swap(e, new),
                    f"a factor is missing: {roles.factor(f)}{on}", f)
            if len(args) == 2 and not any(_scalarish(x) for x in args):
                a, b = args
                ok = a.shape[1] == b.shape[0] and a.shape[0] == b.shape[1]
                op = " " if ok else " @ "    # side by side, a row and a matrix (γ x̂) would read as ⊙
                txt = lambda: _with(root, e, f"{_paren(a)}{op}{_paren(b)}")  # noqa: E731
                add("product", txt, swap(e, a * b) if ok else None,
                    "a matrix product is used where the entrywise product ⊙ belongs")
        if isinstance(e, (sy.Fn, sy.Apply)):
            _function_mutants(e, root, p, roles, add, swap)
    seen, unique = {text(root) if with_text else root}, []
    for m in out:
        key = m.text if with_text else m.expr
        if key not in seen:
            seen.add(key)
            unique.append(m)
    return unique[:MAX_PER_QUANTITY]


def _scalarish(f) -> bool:
    """A 1x1 value, or one broadcast by ones-vectors: an answer's product treats it as a number."""
    if not isinstance(f, MatrixExpr) or f.shape == (1, 1):
        return True
    if isinstance(f, sp.MatMul):
        core = [a for a in f.args if isinstance(a, MatrixExpr) and not isinstance(a, sp.OneMatrix)]
        return all(a.shape == (1, 1) for a in core)
    return False


def _scalar_mutants(e, rest_of, root, roles, dims, add, swap, on):
    """Drop one scalar factor of e = (scalar factors) * rest_of: a number or a count is a constant."""
    coeff, factors = e.as_coeff_mul() if rest_of == 1 else (sp.Integer(1), ())
    if rest_of != 1:
        coeff, factors = e.as_coeff_matrices()[0].as_coeff_mul()
    def without(drop):
        new = sp.Mul(*[f for f in factors if f is not drop]) * (coeff if drop is not coeff else 1)
        return new * rest_of if rest_of != 1 else new
    if coeff not in (1, -1):
        new = without(coeff)
        add("constant", lambda: _with(root, e, text(new)), swap(e, new), f"a constant factor {coeff} is missing{on}", str(coeff))
    for f in factors:
        new = without(f)
        if f.is_number or f in dims or (isinstance(f, sp.Pow) and f.base in dims):
            what = "a constant factor" if f.is_number else "a factor counting entries"
            add("constant", lambda: _with(root, e, text(new)), swap(e, new), f"{what} is missing{on}", f)
        elif not f.is_Number:
            add("drop_factor", lambda: _with(root, e, text(new)), swap(e, new), f"a factor is missing: {roles.factor(f)}{on}",
                f)


def _matmul_mutants(e, root, roles, dims, add, swap, on):
    coeff, mats = e.as_coeff_matrices()
    mats = list(mats)
    if coeff != 1 and mats:
        _scalar_mutants(e, sp.MatMul(*mats) if len(mats) > 1 else mats[0], root, roles, dims, add, swap, on)
    if any(isinstance(m, sp.OneMatrix) for m in mats) or len(mats) < 2:
        return
    lead = "" if coeff == 1 else f"{_paren(coeff)}*"
    for k, m in enumerate(mats):
        if _scalarish(m):
            continue
        parts = [_paren(x) + ("^T" if i == k else "") for i, x in enumerate(mats)]
        square = m.shape[0] == m.shape[1]
        new = coeff * sp.MatMul(*[x.T if i == k else x for i, x in enumerate(mats)]) if square else None
        add("transpose", lambda: _with(root, e, lead + "*".join(parts)), swap(e, new) if square else None,
            f"a factor is transposed: {roles.factor(m)}{on}", m)
    for k, m in enumerate(mats):                      # a Jacobian's diag(f'(z)) left out of the chain
        if isinstance(m, sp.DiagMatrix):
            new = coeff * sp.MatMul(*(mats[:k] + mats[k + 1:]))
            add("drop_factor", lambda: _with(root, e, text(new)), swap(e, new),
                f"a factor is missing: {roles.factor(m.args[0])}{on}", m)
    if sum(not _scalarish(m) for m in mats) < 2:      # a 1x1 factor commutes in an answer
        return
    rev = mats[::-1]
    fits = all(a.shape[1] == b.shape[0] for a, b in zip(rev, rev[1:]))
    new = coeff * sp.MatMul(*rev) if fits else None
    if new is None or new.shape == e.shape:
        add("reverse", lambda: _with(root, e, lead + "*".join(_paren(x) for x in rev)), swap(e, new) if new is not None else None,
            f"the factors of a matrix product are in the wrong order{on}")


def _function_mutants(e, root, p, roles, add, swap):
    node = roles.at.get((e.fname, e.args[2]))
    where = f" at {node}" if node else ""
    if e.order >= 1:
        new = sy.apply(e.fname, e.order - 1, e.args[2])
        add("derivative", lambda: _with(root, e, text(new)), swap(e, new),
            f"the activation{where} is used where its derivative belongs", e)
    shape = mx.shape_of(e.args[2])
    others = [p.scope.symbols[node]] if node else []
    others += [eq_arg for (f, eq_arg) in roles.at if f != e.fname or eq_arg != e.args[2]]
    tried = 0
    for arg in others:
        if arg == e.args[2] or mx.shape_of(arg) != shape or tried >= 2:
            continue
        tried += 1
        new = sy.apply(e.fname, e.order, arg)
        add("wrong_node", lambda: _with(root, e, text(new)), swap(e, new),
            f"the derivative{where} is taken at the wrong point" if e.order else
            f"the function{where} is applied to the wrong value", e)


def distinct(derivation, result, ms, trials=2) -> list[Mutant]:
    """The mutants whose value differs from the reference (an independent numeric check at random
    points, or at the given values where the quantity is graded there; no parsing); text-only
    mutants do not conform, so they differ by construction. Mutants equal to each other there
    are told apart by no one: each is also named by the other's codes."""
    p = derivation.problem
    points = []
    at_values = bool(p.values) and not result.quantity.kind.random_points     # graded at the given values
    for k in range(1 if at_values else trials):
        inst = instances.instance(p, 104729 + k, instances.SIZES[k % len(instances.SIZES)], use_values=at_values)
        env = instances.adjoint_values(derivation, inst, instances.forward(p, inst))
        points.append((inst, env))
    ref = [np.asarray(evaluate(result.closed, env, inst.dims, inst.functions), dtype=float) for inst, env in points]

    def same(xs, ys):
        return all(x.size == y.size and np.allclose(x.reshape(y.shape), y, rtol=1e-7, atol=1e-10)
                   for x, y in zip(xs, ys))
    kept = []                           # (mutant, values or None)
    for m in ms:
        if m.expr is None:
            kept.append((m, None))
            continue
        try:
            vals = [np.asarray(evaluate(m.expr, env, inst.dims, inst.functions), dtype=float) for inst, env in points]
        except (ValueError, TypeError, KeyError, ArithmeticError):
            continue
        if not same(vals, ref):         # else an equivalent mutant: not a mistake
            kept.append((m, vals))
    out = []
    for m, vals in kept:
        twins = [CODES[o.kind] for o, v in kept if v is not None and vals is not None and o is not m and same(v, vals)]
        out.append(replace(m, also=frozenset().union(*twins)) if twins else m)
    return out


def graded_results(derivation):
    """The results graded by equivalence: the ones mutants are made for."""
    return [r for r in derivation.results if r.quantity.graded and r.quantity.kind.mutated]


def reference_form(p, result):
    """The reference form mutants are made from: the shorter of the two, among those written in
    the symbols the quantity allows."""
    forms = sorted(result.forms(), key=sp.count_ops)       # (stable: a tie keeps the forms' order)
    allowed = {p.scope.aliases.get(a, a) for a in result.quantity.allowed}
    if allowed:
        dims = set(p.scope.dims)
        used = lambda f: {str(s).rstrip("@") for s in f.free_symbols} & (set(p.scope.symbols) | dims)  # noqa: E731
        fits = [f for f in forms if used(f) <= allowed | dims]
        forms = fits or forms
    return forms[0]


def reference_text(p, result) -> str:
    """The plain text of the reference form the mutants are made from."""
    return text(reference_form(p, result))


def match(derivation, result, answer_values, values, cache: dict, close):
    """The conforming mutant the answer equals, or None. `values(expr, k)` evaluates at the checker's
    k-th point (None where it cannot), `close(x, y)` compares one point; `cache` keeps each result's
    mutants. Most mutants differ at the first point, so that is the only one most are evaluated at."""
    key = result.quantity.name
    if key not in cache:
        cache[key] = mutants(derivation, result, with_text=False)
    for m in cache[key]:
        try:
            if all(_close_at(values(m.expr, k), a, close) for k, a in enumerate(answer_values)):
                return m
        except (ValueError, TypeError, KeyError, ArithmeticError):
            continue
    return None


def _close_at(v, a, close) -> bool:
    return v is not None and close(a, v)


class Values:
    """`values(expr, k)`: expr at the checker's k-th point, remembered per (expr, point) in `memo`
    (points are the reference's own, shared by every answer)."""

    def __init__(self, evaluate_at, rows, memo: dict):
        self.evaluate_at, self.rows, self.memo = evaluate_at, rows, memo

    def __call__(self, e, k):
        row = self.rows[k]
        key = (e, id(row[3]))
        if key not in self.memo:
            self.memo[key] = self.evaluate_at(e, row)
        return self.memo[key]


def feedback(m: Mutant, reveal: bool = False) -> str:
    """The mistake by role; with reveal, also the expression concerned."""
    if not (reveal and m.detail != ""):
        return m.role
    return f"{m.role} ({m.detail if isinstance(m.detail, str) else text(m.detail)})"
