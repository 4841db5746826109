"""Closed forms a textbook prints: derivative identities in the problem's forward names, entrywise
islands simplified as scalars (islands.py), forward nodes recognised, and among the equivalent
forms found the one with the fewest operands kept. Every rewrite is an identity; the result is
proved numerically like every other (verify.py)."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.engine.simplify.islands import Atoms, has_fraction
from derive.expr import functions as fns
from derive.expr import matrix as sy
from derive.notation.size import operands
from derive.notation.text import decimal
from derive.runtime import limits

MAX_IDENTITY_SITES = 4   # derivative identities are tried in results with at most this many f'(z)
LONG_NUMBER = 6          # digits of a fraction that is not a decimal (1/12 is fine, 8943/200001 is not)
MAX_OPERANDS = 150       # a longer closed form is left as derived (deep chains: the cost grows with depth)



@dataclass(frozen=True)
class Mode:
    identities: bool      # f'(z) written in the node f(z)
    linear: bool          # sums split over terms, constants taken out
    eliminate: bool       # c -> xhat / s where xhat = c ⊙ s, s constant along an axis


class Simplifier:
    """The closed forms of one problem's results; passes (and their atoms and memos) are shared."""

    def __init__(self, problem):
        sym = problem.scope.symbols
        self.eqs = [(sym[e.name], e.expr) for e in problem.equations if isinstance(e.expr, MatrixExpr)]
        # f'(z) in terms of p = f(z), each row's identity: sigma' = p(1 - p), tanh' = 1 - h^2, exp' = exp
        self.ident = {fns.Apply(rhs.fname, 1, rhs.arg): fns.FUNCTIONS[rhs.fname].identity(node, rhs.arg)
                      for node, rhs in self.eqs if isinstance(rhs, fns.Apply) and rhs.order == 0
                      and rhs.fname in fns.FUNCTIONS and fns.FUNCTIONS[rhs.fname].identity}
        self.centred = _centred(self.eqs)
        modes = [Mode(*flags) for flags in product((False, True), repeat=3)]
        self.modes = [m for m in modes if (self.ident or not m.identities) and (self.centred or not m.eliminate)]
        self.passes: dict = {}

    def __getstate__(self) -> dict:
        """Without the passes' memo, which a copy (a derivation kept on disk) makes again if asked."""
        return {**self.__dict__, "passes": {}}

    def closed_form(self, expr):
        """The smallest equivalent form of a result found by the rewrites above (expr if none is smaller)."""
        if not isinstance(expr, MatrixExpr) or operands(expr) > MAX_OPERANDS:
            return expr
        best, best_size = expr, _size(expr)
        sums = expr.has(sp.OneMatrix)             # no ones-vector: no sum, so linear or not is the same
        # f'(z) -> p ⊙ (1 - p) trades one operand for three and pays only when it cancels (near a
        # loss); a deep chain's many derivative sites never do, and each would cost a pass
        sites = len(expr.atoms(fns.Apply) & set(self.ident)) if self.ident else 0
        applies = 0 < sites <= MAX_IDENTITY_SITES
        for mode in self.modes:
            if (mode.identities and not applies) or (not mode.linear and not sums):
                continue
            limits.check()
            if mode not in self.passes:
                self.passes[mode] = _Pass(mode, self.eqs, self.ident, self.centred)
            cand = self.passes[mode].run(expr)
            size = _size(cand)
            if size < best_size and not _ugly(cand) - _ugly(expr):
                best, best_size = cand, size
        factored = common_factor(best)
        return factored if _size(factored) < best_size else best


def common_factor(e):
    """A x + Aᵀ x -> (A + Aᵀ) x, and x A + x B -> x (A + B): a factor every product of a matrix
    sum ends (or starts) with, taken out; below the sum too."""
    if not isinstance(e, MatrixExpr) or not e.args or isinstance(e, (sp.MatrixSymbol, sp.OneMatrix)):
        return e
    args = [common_factor(a) for a in e.args]
    if args != list(e.args):
        e = e.func(*args)
    if not isinstance(e, sp.MatAdd):
        return e
    terms = [t.as_coeff_matrices() if isinstance(t, sp.MatMul) else (sp.S.One, [t]) for t in e.args]
    if any(len(mats) < 2 for _, mats in terms):
        return e
    for end in (-1, 0):
        shared = terms[0][1][end]
        if all(mats[end] == shared for _, mats in terms):
            rest = [c * (sp.MatMul(*(mats[:-1] if end else mats[1:])) if len(mats) > 2 else mats[end - 1 if end else 1])
                    for c, mats in terms]
            return sp.MatMul(sp.MatAdd(*rest), shared) if end else sp.MatMul(shared, sp.MatAdd(*rest))
    return e


def _centred(eqs) -> dict:
    """Nodes whose entries sum to zero along an axis: c = h - mean(h, axis), and c ⊙ s for s constant there."""
    atoms = Atoms()
    means, out = {}, {}
    for node, rhs in eqs:
        coeff, mats = rhs.as_coeff_matrices() if isinstance(rhs, sp.MatMul) else (1, [rhs])
        for axis, ones, x in ((0, mats[0], mats[-1]), (1, mats[-1], mats[0])):
            if len(mats) == 2 and isinstance(ones, sp.OneMatrix) and ones.shape[axis] == 1 \
                    and ones.shape[1 - axis] != 1 and coeff * ones.shape[1 - axis] == 1:
                means[node] = (x, axis)
    for node, rhs in eqs:
        for m, (x, axis) in means.items():
            if isinstance(rhs, sp.MatAdd) and set(rhs.args) == {x, -sy.broadcast(m, x.shape)}:
                out[node] = (axis,)
        d = atoms.scalar(rhs)
        if d.is_Mul:
            for axis in (0, 1):
                varying = [f for f in d.args if (atoms.shape(f) or (1, 1))[axis] != 1]
                if len(varying) == 1 and varying[0].is_Symbol and \
                        axis in out.get(atoms.matrix_of[varying[0]], ()):
                    out[node] = (axis,)
    return out


class _Pass:
    """One simplification pass in one mode; atoms are shared by every level of the expression."""

    def __init__(self, mode: Mode, eqs, ident: dict, centred: dict):
        self.mode, self.ident = mode, ident
        self.memo: dict = {}
        self.atoms = Atoms(mode.linear, centred, inner=self.simplify, rewrite=self.rewrite)
        self.defs = []           # (scalar definition, node atom), last equation first
        self.elims = []          # (atom, its value in a node): c -> xhat / s
        for node, rhs in reversed(eqs):
            d = self.atoms.scalar(rhs)
            n = self.atoms.atom(node)
            if d != n:
                self.defs.append((d, n, d.free_symbols))
            if mode.eliminate and d.is_Mul:
                full = [f for f in d.args if self.atoms.shape(f) == node.shape]
                if len(full) == 1 and full[0].is_Symbol:
                    self.elims.append((full[0], n / (d / full[0])))

    def run(self, expr):
        if self.mode.identities:
            expr = expr.xreplace(self.ident)
        return self.simplify(expr)

    def simplify(self, e):
        if not isinstance(e, MatrixExpr) or not e.args or isinstance(e, (sp.MatrixSymbol, sp.OneMatrix)):
            return e
        if e not in self.memo:              # equal subtrees recur across a problem's results
            self.memo[e] = self._simplify(e)
        return self.memo[e]

    def _simplify(self, e):
        s = self.rewrite(self.atoms.scalar(e))
        best, best_size = None, None
        for cand in _variants(s):
            limits.check()                  # between SymPy calls (each one is bounded in size)
            m = self.atoms.matrix(cand, e.shape)
            size = _size(m)
            if best is None or size < best_size:
                best, best_size = m, size
        return best

    def rewrite(self, s):
        s = self.recognise(s)
        return self.recognise(s.subs(self.elims)) if self.elims else s

    def recognise(self, s):
        for d, n, needs in self.defs:
            if needs <= s.free_symbols:
                s = s.subs(d, n)
        return s


def _variants(s):
    yield s
    if not _worth_factoring(s):
        return
    if len(sp.Add.make_args(sp.expand(s, deep=False))) > 40:
        return
    for f in (sp.factor, sp.cancel if has_fraction(s) else None, lambda x: sp.factor_terms(sp.expand(x))):
        try:
            if f is not None:
                yield f(s)
        except (sp.PolynomialError, TypeError, ValueError):
            continue


def _worth_factoring(s) -> bool:
    """A sum, a quotient of sums, or a product with a sum of products in it: something may cancel
    or come out. A monomial such as h (1 - h) A has nothing to offer (and deep chains are made of them)."""
    if s.is_Add:
        return True
    if has_fraction(s):
        return True
    return any(f.is_Add and any(len(t.free_symbols) > 1 or abs(t.as_coeff_Mul()[0]) != 1 for t in f.args)
               for f in sp.Mul.make_args(s))


def _size(e) -> tuple:
    """Fewest operands first; between equals, the smaller tree (sum(p - y)/N over sum((p - y)/N))."""
    return operands(e), _nodes(e)


def _ugly(e) -> set:
    """Numbers no textbook prints: beyond 10^6 or below 10^-6, or long fractions that are not
    decimals. A rewrite may not bring new ones (factoring out 1/500000000000000 from 0.0535 Z)."""
    return {r for r in e.atoms(sp.Rational) if r != 0 and (abs(r) > 10**6 or abs(r) < sp.Rational(1, 10**6)
            or not decimal(r) and len(str(abs(r.p))) + len(str(r.q)) > LONG_NUMBER)}


def _nodes(e) -> int:
    return 1 + sum(_nodes(a) for a in e.args) if e.args else 1
