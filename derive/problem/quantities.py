"""The [[quantities]] of a problem file -> Quantity: names, kinds, and each kind's own keys."""
from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from derive.errors import AnswerError, ProblemSpecError
from derive.expr import matrix as sy
from derive.notation import build as reader
from derive.problem import kinds

GRAD = re.compile(r"^d(?P<out>[A-Za-z][A-Za-z0-9^]*)(?:_(?P<oindex>[a-z]))?"
                  r"/d(?P<wrt>[A-Za-z][A-Za-z0-9^]*)(?:_(?P<index>[a-z]{1,2}))?$")
KINDS = tuple(kinds.KINDS)          # see kinds.py and docs/problems.md


def fail(path, key, message, position=None):
    raise ProblemSpecError(message, file=str(path), key=key, position=position)


@dataclass(frozen=True)
class Quantity:
    name: str           # as the problem's text names it: dL/dw1, delta3, u0, dL/dh_i
    kind: kinds.Kind    # gradient | value | jacobian | formula | shape | property | prose (a str)
    of: str             # the differentiated node (output) or the valued node
    wrt: str = ""       # the node differentiated against
    index: str = ""     # index form: dL/dh_i has index "i"
    allowed: tuple = () # symbols an answer may use (empty: any)
    dims: tuple = ()    # shape: the asked dimensions (SymPy, in the problem's symbols)
    alternatives: tuple = ()  # shape: other accepted orders (tuples of SymPy)
    var: str = ""       # property: the free variable of an answer (z)
    bounds: tuple = ()  # property: (low, high) of the range, SymPy (±oo for unbounded)
    checks: tuple = ()  # property: which properties are graded (properties.PROPERTIES)
    sets: str = ""      # property "dead": the input the answer gives a value to
    zero: tuple = ()    # property "dead": gradients that must stay zero
    model_answer: str = ""   # shown on solution sheets; the whole answer of a prose question
    graded: bool = True      # prose questions are not auto-graded


def kind_named(name) -> kinds.Kind:
    """The kind a raw entry names (gradient when it names none or none that exists)."""
    return kinds.KINDS.get(name, kinds.GRADIENT) if isinstance(name, str) else kinds.GRADIENT


def read_quantity(path, i, q, symbols, output, adjoint_names, aliases) -> Quantity:
    key = f"quantities[{i}]"
    if isinstance(q, str):
        q = {"name": q}
    name = q.get("name")
    if not name:
        fail(path, key, "a quantity needs a name")
    allowed = tuple(q.get("allowed", ()))
    kind = q.get("kind")
    if kind is not None and not (isinstance(kind, str) and kind in kinds.KINDS):
        fail(path, key, f"kind {kind!r} is not one of {', '.join(KINDS)}")
    kind = kinds.KINDS.get(kind)
    unknown = set(q) - QUANTITY_KEYS
    if unknown:
        fail(path, key, f"{name}: unknown key(s) {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(sorted(QUANTITY_KEYS))}")
    special = kind.read(QuantityReader(path, key, name, symbols, allowed), q) if kind else None
    if special is not None:
        return special
    if "of" in q:                                      # a value under another name: softmax_i, a formula
        if q["of"] not in symbols:
            fail(path, key, f"{name}: unknown node {q['of']}")
        return Quantity(name, kind or kinds.VALUE, q["of"], index=q.get("index", ""), allowed=allowed)
    m = GRAD.match(name)
    out_shape = sy.shape_of(symbols.get(output))
    if kind is None and m and aliases.get(m["out"], m["out"]) == output and out_shape and 1 in out_shape \
            and out_shape != (1, 1):
        kind = kinds.JACOBIAN                   # d(vector output)/dB: it has no gradient, only a Jacobian
    named = {v: k for k, v in adjoint_names.items()}
    if name in named:                                  # delta3, dL/dh3
        return Quantity(name, kind or kinds.GRADIENT, output, named[name], allowed=allowed)
    if m:
        out, wrt = aliases.get(m["out"], m["out"]), aliases.get(m["wrt"], m["wrt"])
        for n in (out, wrt):
            if n not in symbols:
                fail(path, key, f"{name}: unknown name {n}")
        kind = kind or (kinds.GRADIENT if out == output else kinds.JACOBIAN)
        return Quantity(name, kind, out, wrt, m["index"] or "", allowed)
    if name in symbols:
        return Quantity(name, kind or kinds.VALUE, name, allowed=allowed)
    fail(path, key, f"{name!r} is neither a gradient dA/dB, a named gradient, nor a node")


QUANTITY_KEYS = {"name", "kind", "of", "index", "allowed", "shape", "alternatives", "var", "range",
                 "properties", "sets", "zero", "model_answer"}


def _dim_exprs(path, key, dims, symbols):
    """A shape written as a list of dimension expressions (numbers or the problem's symbols)."""
    if not isinstance(dims, list) or not dims:
        fail(path, key, f"a shape is a list of dimensions like [\"n1\", \"batch\"], not {dims!r}")
    scope = reader.Scope(symbols={k: v for k, v in symbols.items() if sy.shape_of(v) in (None, (1, 1))})
    out = []
    for d in dims:
        try:
            out.append(sp.Integer(d) if isinstance(d, int) else _scalar(reader.read(str(d), scope, "text")))
        except AnswerError as e:
            fail(path, key, f"dimension {d!r}: {e.message}")
    return tuple(out)


def _scalar(e):
    return sp.Symbol(str(e), real=True) if isinstance(e, sp.MatrixSymbol) else e


class QuantityReader:
    """Reads the keys of the kinds that have their own (kinds.Kind.read): shape, property, prose."""

    def __init__(self, path, key, name, symbols, allowed):
        self.path, self.key, self.name, self.symbols, self.allowed = path, key, name, symbols, allowed

    def prose(self, q) -> Quantity:
        model = str(q.get("model_answer", ""))
        if not model.strip():
            fail(self.path, self.key, f"{self.name}: a prose question needs a model_answer")
        return Quantity(self.name, kinds.PROSE, "", model_answer=model, graded=False)

    def shape(self, q) -> Quantity:
        path, key, name, symbols = self.path, self.key, self.name, self.symbols
        if "of" in q:
            if q["of"] not in symbols or not sy.shape_of(symbols[q["of"]]):
                fail(path, key, f"{name}: {q.get('of')} is not a matrix of this problem")
            dims = tuple(symbols[q["of"]].shape)
        elif "shape" in q:
            dims = _dim_exprs(path, key, q["shape"], symbols)
        else:
            fail(path, key, f"{name}: a shape quantity needs `shape = [...]` or `of = NODE`")
        alts = tuple(_dim_exprs(path, key, a, symbols) for a in q.get("alternatives", []))
        return Quantity(name, kinds.SHAPE, q.get("of", ""), dims=dims, alternatives=alts,
                        model_answer=str(q.get("model_answer", "")), allowed=self.allowed)

    def property(self, q) -> Quantity:
        path, key, name, symbols, allowed = self.path, self.key, self.name, self.symbols, self.allowed
        model = str(q.get("model_answer", ""))
        known = kinds.Property.CHECKS
        checks = tuple(q.get("properties", kinds.Property.DEFAULT_CHECKS))
        for c in checks:
            if c not in known:
                fail(path, key, f"{name}: unknown property {c!r}; known: {', '.join(known)}")
        if q.get("of") not in symbols:
            fail(path, key, f"{name}: a property quantity needs `of = NODE`, the node holding a model answer")
        if "dead" in checks:
            sets = q.get("sets", "")
            if sets not in symbols:
                fail(path, key, f"{name}: property 'dead' needs `sets = INPUT`, the input the answer gives")
            return Quantity(name, kinds.PROPERTY, q["of"], checks=checks, sets=sets, zero=tuple(q.get("zero", ())),
                            model_answer=model, allowed=allowed)
        var = q.get("var", "z")
        if var not in symbols:
            fail(path, key, f"{name}: unknown variable {var}")
        rng = q.get("range", ["-inf", "inf"])
        if not isinstance(rng, list) or len(rng) != 2:
            fail(path, key, f"{name}: range is [LOW, HIGH], e.g. [\"0\", \"inf\"]")
        bounds = tuple(sp.oo if str(b) in ("inf", "+inf") else -sp.oo if str(b) == "-inf"
                       else _dim_exprs(path, key, [b], symbols)[0] for b in rng)
        return Quantity(name, kinds.PROPERTY, q["of"], var=var, bounds=bounds, checks=checks, model_answer=model,
                        allowed=allowed)
