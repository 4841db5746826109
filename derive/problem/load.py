"""Problem files (TOML) -> Problem: symbols, shapes, forward equations, quantities, conventions."""
from __future__ import annotations

import functools
import hashlib
import os
import re
import stat
import tomllib
import warnings
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.errors import AnswerError, ProblemSpecError, UnknownError, did_you_mean
from derive.expr import functions as fns
from derive.expr import matrix as mx
from derive.notation import build as sy
from derive.notation import display
from derive.notation.latex import latex
from derive.notation.lexers import latex_name
from derive.notation.normalise import normalise
from derive.problem import index, schema
from derive.problem.index import alias_number, catalogue_dir, library_dir, problem_dirs
from derive.problem import variant_table as givens
from derive.problem.quantities import GRAD, Quantity, kind_named, read_quantity
from derive.problem.quantities import fail as _fail
from derive.runtime import diskcache
from derive.runtime.commandline import same_file


@dataclass(frozen=True)
class Equation:
    name: str           # left-hand side
    text: str           # as written in the file
    expr: object        # SymPy right-hand side


@dataclass(frozen=True)
class SampleAnswer:
    quantity: str
    answer: str
    verdict: str
    note: str = ""


@dataclass(frozen=True)
class Problem:
    id: str
    alias: str
    title: str
    source: str
    statement: str
    path: str
    topic: str = field(default="", kw_only=True)   # what a course would file it under (library problems)
    scope: sy.Scope
    inputs: tuple                 # leaf names, in declaration order
    equations: tuple              # Equation, in order
    output: str                   # the scalar differentiated (L, rho, z, y)
    given: dict                   # upstream gradient name -> node it is the gradient at
    values: dict                  # given numeric values (name -> float)
    adjoint_names: dict           # node -> the problem's name for d(output)/d(node)
    quantities: tuple
    layout: str = "shape"         # "shape" (gradient has the parameter's shape) or "numerator"
    vectors: str = "column"
    onehot: tuple = ()
    samples: tuple = ()
    positive: tuple = ()          # symbols drawn positive when verifying (eps)
    keep: tuple = ()              # gradient names answers are written in (beside named deltas)
    notes: dict = field(default_factory=dict)
    reveal: bool = False          # feedback may show the expression a mistake concerns
    points: dict = field(default_factory=dict)   # quantity name -> its points (default 1 each)
    ecf: float | None = None      # share of a step's points for error carried forward (None: 1.0)
    display: dict = field(default_factory=dict)   # name -> its LaTeX as the statement writes it (notation.display)

    def points_of(self, name: str) -> float:
        return self.points.get(name, 1.0)
    variants: givens.VariantSpec | None = None   # what may vary ([variants]); None: nothing
    variant: int | None = None    # the seed this problem was drawn with (variants.instantiate)
    choices: dict = field(default_factory=dict)  # function slot -> the activation in use
    value_text: dict = field(default_factory=dict)   # given value -> as printed ("0.3")
    data: dict = field(default_factory=dict, compare=False, repr=False)   # the file's table, to re-draw from
    named: dict = field(default_factory=dict, compare=False, repr=False)  # spelling -> Quantity, as found

    def node_shape(self, name: str):
        return mx.shape_of(self.scope.symbols[name])

    @property
    def onehot_sums(self) -> tuple:
        """(name, where its ones are) per one-hot symbol: "all" for a vector (one 1 in all), "rows"
        for a matrix (one 1 per row: each row an example's label), "columns" when the file declares
        vectors = "column" (one 1 per column)."""
        declared = self.data.get("conventions", {}).get("vectors") if isinstance(self.data, dict) else None
        out = []
        for name in self.onehot:
            shape = self.node_shape(name) if name in self.scope.symbols else None
            matrix = shape is not None and 1 not in shape
            out.append((name, "all" if not matrix else "columns" if declared == "column" else "rows"))
        return tuple(out)

    @property
    def asks_gradients(self) -> bool:
        """False for a problem of shapes, counts, formulas or prose: no backward pass to show."""
        return any(q.kind.asks_gradient for q in self.quantities)

    def quantity(self, name: str) -> Quantity:
        hit = self.named.get(name)            # a batch asks the same few spellings thousands of times
        if hit is not None and any(hit is q for q in self.quantities):     # (not a replaced copy's)
            return hit
        for candidate in (name, self._spelled(name)):
            for q in self.quantities:
                if q.name == candidate or self.scope.aliases.get(candidate) == q.name:
                    if len(self.named) < 256 and isinstance(name, str):
                        self.named[name] = q
                    return q
        known = ", ".join(q.name for q in self.quantities)
        hint = did_you_mean(name, [q.name for q in self.quantities])
        raise UnknownError(f"unknown quantity {str(name)[:100]!r} for {self.id}{hint}; known: {known}")

    def _spelled(self, name: str) -> str:
        """A quantity named with the problem's aliases (dL/dW^{(1)}, \\partial L/\\partial Z^1, dL/dc_{t-1})
        in the problem's own names (dL/dW1)."""
        s = re.sub(r"\\frac\s*\{(.+?)\}\s*\{(.+)\}", r"\1/\2", str(name))      # \frac{\partial L}{\partial \mu}
        s = re.sub(r"\\partial\s*", "d", normalise(s)[0]).replace(" ", "")       # ∂L/∂μ, dL/dW¹
        m = re.fullmatch(r"d(.+?)/d(.+)", s)
        if not m:
            return self._alias(s)
        return f"d{self._alias(m.group(1))}/d{self._alias(m.group(2))}"

    def _alias(self, part: str) -> str:
        part = latex_name(part, self.scope.aliases) or part if "\\" in part else part     # \ell, \hat{x}
        bare = part.replace("{", "").replace("}", "").replace("\\", "")
        for k in (part, part.replace("\\", ""), bare, bare.replace("(", "").replace(")", ""), re.sub(r"\^(\w+)$", r"^(\1)", bare),
                  bare.replace("_", "")):
            canon = self.scope.aliases.get(k, k if k in self.scope.symbols else None)
            if canon is not None:
                return canon
        return part

    def _repr_latex_(self) -> str:
        with display.using(self.display):
            lines = " \\\\ ".join(f"{latex(self.scope.symbols[e.name])} &= {latex(e.expr)}" for e in self.equations)
        return f"$\\displaystyle \\begin{{aligned}} {lines} \\end{{aligned}}$"


def adjoint_name(output: str, node: str) -> str:
    return f"d{output}/d{node}"


def load_file(path: str | os.PathLike) -> Problem:
    """Read and check one problem file. Every mistake names the file and the key."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as e:
        _fail(path, "", f"cannot read: {e.strerror}")
    if not stat.S_ISREG(st.st_mode):          # a FIFO or a device would block or never end
        _fail(path, "", "not a regular file")
    if st.st_size > schema.MAX_FILE_BYTES:
        _fail(path, "", f"the file is {st.st_size} bytes; a problem file is at most {schema.MAX_FILE_BYTES}")
    return _load_unchanged(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=256)
def _load_unchanged(path: Path, mtime_ns: int, size: int) -> Problem:
    """Problems are immutable, so a file is parsed once while it stays the same (finding one
    problem by id reads the whole catalogue)."""
    try:
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        kept = diskcache.get("problem", digest, str(path))
        if isinstance(kept, Problem):        # these bytes were read and checked before
            return kept
        data = tomllib.loads(raw.decode("utf-8"))
    except RecursionError:
        _fail(path, "", "not a problem file: its tables or arrays are nested too deep")
    except tomllib.TOMLDecodeError as e:
        _fail(path, "", f"not valid TOML: {e}")
    except UnicodeDecodeError as e:
        _fail(path, "", f"not UTF-8 text (byte {e.start + 1} is {e.object[e.start:e.start + 1]!r})")
    except OSError as e:
        _fail(path, "", f"cannot read: {e.strerror}")
    try:
        schema.check(path, data)
        problem = build(data, path)
    except RecursionError:
        _fail(path, "", "not a problem file: its tables or arrays are nested too deep")
    diskcache.put("problem", (digest, str(path)), problem)
    return problem


def build(data: dict, path, variant: int | None = None, choices: dict | None = None) -> Problem:
    """A Problem from a problem file's table. A variant (variants.instantiate) passes the drawn
    values in data["values"] (as Decimals) and the activation of each function slot in `choices`;
    without them, slots take their first choice."""
    path = Path(path)
    for key in ("id", "title", "quantities"):
        if key not in data:
            _fail(path, key, "missing required key")
    qs = data["quantities"]
    if not qs or any(not isinstance(q, dict) or kind_named(q.get("kind")).needs_maths for q in qs):
        for key in ("symbols", "forward"):              # only a sheet of prose questions has no maths
            if key not in data:
                _fail(path, key, "missing required key (only a problem whose every quantity is prose may omit it)")

    dims = {d: sp.Symbol(d, positive=True, integer=True) for d in data.get("dims", [])}
    raw_symbols = data.get("symbols", {})
    matrix_mode = any(v != "scalar" for v in raw_symbols.values())
    symbols: dict = {}
    for name, spec in raw_symbols.items():
        symbols[name] = _make_symbol(path, name, spec, dims, matrix_mode)
    functions = frozenset(data.get("functions", []))
    for f in functions:
        if f in fns.ACTIVATIONS:
            _fail(path, "functions", f"{f} is a known activation; list only abstract functions")
    aliases = dict(data.get("aliases", {}))
    spec = None
    if "variants" in data:
        try:
            spec = givens.read_spec(data["variants"], symbols, functions)
        except givens.SpecError as e:
            _fail(path, e.key, e.message)
        for s in spec.slots:
            if not givens.uses_slot(data.get("forward", []), s.name):
                _fail(path, f"variants.{s.name}", f"the forward equations never call the slot {s.name}(...)")
    choices = dict(choices) if choices is not None else {s.name: s.choices[0] for s in (spec.slots if spec else ())}
    inputs = tuple(symbols)
    scope = sy.Scope(symbols=symbols, functions=functions, aliases=aliases, dims=dims, matrix_mode=matrix_mode)

    equations = []
    node_inputs: dict = {}
    uses: dict = {}                 # function -> the distinct arguments it is applied to
    for i, line in enumerate(data.get("forward", [])):
        key = f"forward[{i}]"
        if "=" not in line:
            _fail(path, key, f"an equation needs '=': {line!r}")
        line = givens.fill_slots(line, choices)
        lhs, rhs = (s.strip() for s in line.split("=", 1))
        if not re.fullmatch(r"[A-Za-z]\w*", lhs) or lhs in symbols:
            _fail(path, key, f"left-hand side {lhs!r} must be a new name")
        try:
            expr = sy.read(rhs, scope, "text", max_length=10_000)
        except AnswerError as e:
            _fail(path, key, e.message, line.index(rhs) + (e.offset or 0))
        symbols[lhs] = _node_symbol(lhs, expr)
        equations.append(Equation(lhs, line, expr))
        for call in expr.atoms(fns.Fn, fns.Apply):
            node_inputs.setdefault(call.fname, call.args[2])
            uses.setdefault(call.fname, set()).add(call.args[2])

    output = data.get("output", equations[-1].name if equations else "")
    given_raw = data.get("given", {})
    given = {}
    if given_raw and output in {e.name for e in equations}:
        _fail(path, "given", f"the output {output} is computed by the forward equations, so its gradients are "
                             f"derived, not given; [given] is for an output no equation defines (output = \"L\" "
                             f"with \"dL/dh\" = \"h\"). To have answers written in a gradient, name it in [names]")
    computed = {e.name for e in equations}
    for gname, node in given_raw.items():
        if node not in symbols:
            _fail(path, f"given.{gname}", f"unknown node {node}")
        if gname in symbols or gname in functions:
            _fail(path, f"given.{gname}", f"{gname} already names a symbol or node of the problem; a given "
                                          f"gradient needs a name of its own, such as {adjoint_name(output, node)}")
        other = next((n for n in symbols if n != node and adjoint_name(output, n) == gname), None)
        if other is not None:
            _fail(path, f"given.{gname}", f"{gname} is the name of the gradient at {other}, not at {node}")
        if node not in computed:
            _fail(path, f"given.{gname}", f"{node} is an input, which no forward equation computes; a given "
                                          f"gradient belongs to a computed node (the derivation runs from it "
                                          f"back to the inputs): give it at the node that uses {node}")
        given[gname] = node
    adjoint_names = {node: adjoint_name(output, node) for node in symbols}
    for gname, node in given.items():
        adjoint_names[node] = gname
    for name, node in data.get("names", {}).items():
        if node not in symbols:
            _fail(path, f"names.{name}", f"unknown node {node}")
        adjoint_names[node] = name
    for gname, node in given.items():
        if adjoint_names[node] != gname:
            _fail(path, f"given.{gname}", f"{node}'s gradient is named {adjoint_names[node]} in [names]; give it "
                                          f"under that name ({adjoint_names[node]} = \"{node}\" in [given]) or "
                                          f"drop one of the two")
    # the gradient names and their aliases become symbols an answer may use
    layout = data.get("conventions", {}).get("layout", "shape")
    for node, gname in adjoint_names.items():
        shape = mx.shape_of(symbols[node])
        if shape and layout == "numerator":
            shape = (shape[1], shape[0])       # as students write it: dl/dz3 is a row vector
        symbols.setdefault(gname, sp.MatrixSymbol(gname, *shape) if shape else sp.Symbol(gname))
        aliases.setdefault(adjoint_name(output, node), gname)
    scope = sy.Scope(symbols=symbols, functions=functions, aliases=aliases, node_inputs=node_inputs,
                     dims=dims, matrix_mode=matrix_mode,
                     single_nodes=frozenset(f for f, args in uses.items() if len(args) == 1))
    for a, b in data.get("aliases", {}).items():     # the author's; the generated ones are sound
        if b not in symbols and b.split("_")[0] not in symbols and b not in functions and not GRAD.match(b):
            _fail(path, f"aliases.{a}", f"{b} is not a name of this problem")

    quantities = tuple(read_quantity(path, i, q, symbols, output, adjoint_names, aliases)
                       for i, q in enumerate(data["quantities"]))
    computed = {e.name for e in equations}
    for i, q in enumerate(quantities):
        if q.kind.of_is_computed and q.of not in computed:
            _fail(path, f"quantities[{i}]", f"{q.name}: a Jacobian dA/dB needs A computed by a forward equation "
                                            f"from B, and {q.of} is an input (did you mean d{q.wrt}/d{q.of}?)")
    for q in quantities:                      # a Jacobian's name (dz2/dz1) may stand in an answer
        if q.kind.name_is_symbol and mx.shape_of(symbols[q.of]) and mx.shape_of(symbols[q.wrt]):
            rows = max(symbols[q.of].shape, key=lambda d: d != 1)
            cols = max(symbols[q.wrt].shape, key=lambda d: d != 1)
            if q.name not in symbols or q.of == output:    # d(output)/dx: the Jacobian, not a gradient name
                symbols[q.name] = sp.MatrixSymbol(q.name, rows, cols)
            aliases.setdefault(q.name, q.name)    # so the answer lexer reads dz2/dz1 as one name
    values, raw_values = {}, dict(data.get("values", {}))
    for k, v in raw_values.items():
        if k not in symbols or isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
            _fail(path, f"values.{k}", "a value must be a number for a declared symbol")
        values[k] = float(v)
    if spec is not None:
        for i, c in enumerate(spec.require):
            for side in (c.lhs, c.rhs):
                try:
                    sy.read(side, scope, "text")
                except AnswerError as e:
                    _fail(path, f"variants.require[{i}]", f"{c.text!r}: {e.message}")
    samples = tuple(SampleAnswer(s["quantity"], s["answer"], s["verdict"], s.get("note", ""))
                    for s in data.get("answers", []))
    conv = data.get("conventions", {})
    points = _points(path, data.get("points", {}), quantities, aliases)
    ecf = data.get("ecf")
    if ecf is not None and (isinstance(ecf, bool) or not isinstance(ecf, (int, float)) or not 0 <= ecf <= 1):
        _fail(path, "ecf", f"the credit for an error carried forward is a number from 0 to 1 (a share of "
                           f"the step's points, e.g. ecf = 0.5), not {ecf!r}")
    return Problem(
        id=data["id"], alias=data.get("alias", ""), title=givens.fill(data["title"], raw_values, choices, False),
        source=data.get("source", ""), topic=data.get("topic", ""), statement=givens.fill(data.get("statement", ""), raw_values, choices, True),
        path=str(path),
        scope=scope, inputs=inputs, equations=tuple(equations), output=output, given=given,
        values=values, adjoint_names=adjoint_names, quantities=quantities,
        layout=conv.get("layout", "shape"), vectors=conv.get("vectors", "column"),
        onehot=tuple(data.get("onehot", [])), samples=samples, keep=tuple(data.get("keep", [])),
        positive=tuple(data.get("positive", [])), notes=dict(data.get("notes", {})),
        reveal=data.get("reveal", False) is True,
        variants=spec, variant=variant, choices=choices, data=data,
        value_text={k: givens.number_text(v) for k, v in raw_values.items()},
        points=points, ecf=None if ecf is None else float(ecf),
        display=_display(path, data, set(symbols) | {output}))



def _display(path, data, names) -> dict:
    """The problem's notation: [display] entries for its names (the output too, where only its
    gradient is given), then what its aliases spell."""
    for name in data.get("display", {}):
        if name not in names:
            _fail(path, f"display.{name}", f"{name} is not a name of this problem")
    return display.table(data.get("display", {}), data.get("aliases", {}))


def _points(path, raw, quantities, aliases) -> dict:
    """[points] quantity = number: each asked quantity's points, under its own name."""
    if not isinstance(raw, dict):
        _fail(path, "points", 'points is a table of quantity = number, e.g. [points] "drho/dW3" = 2')
    names = {q.name for q in quantities}
    out = {}
    for name, v in raw.items():
        q = aliases.get(name, name)
        if q not in names:
            _fail(path, f"points.{name}", f"{name} is not one of the quantities asked: {', '.join(sorted(names))}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1e6 or v != v:
            _fail(path, f"points.{name}", f"points are a number from 0 to 1000000, not {v!r}")
        out[q] = float(v)
    return out


def _make_symbol(path, name, spec, dims, matrix_mode):
    if spec == "scalar":
        return sp.MatrixSymbol(name, 1, 1) if matrix_mode else sp.Symbol(name, real=True)
    if isinstance(spec, list) and len(spec) == 2:
        shape = []
        for d in spec:
            if isinstance(d, int):
                shape.append(sp.Integer(d))
            elif d in dims:
                shape.append(dims[d])
            elif isinstance(d, str) and set(d) & set("+-*/()"):
                shape.append(_dimension_expression(path, name, d, dims))
            else:
                _fail(path, f"symbols.{name}", f"unknown dimension {d!r}; declared: {', '.join(dims) or 'none'}")
        return sp.MatrixSymbol(name, *shape)
    _fail(path, f"symbols.{name}", f'a symbol is "scalar" or a shape like ["d_H", "d"], not {spec!r}')


def _dimension_expression(path, name, text, dims):
    """A size such as "(N - k + 1)/2": the dimensions combined by + - * /, read by the safe parser."""
    try:
        d = sy.read(text, sy.Scope(symbols={}, dims=dims), fmt="text")
    except AnswerError as e:
        _fail(path, f"symbols.{name}", f"the size {text!r} is not an expression in the dimensions "
                                       f"({', '.join(dims) or 'none'}): {e.message}")
    if isinstance(d, MatrixExpr) or not d.free_symbols or d.free_symbols - set(dims.values()):
        _fail(path, f"symbols.{name}", f"the size {text!r} must be an expression in the dimensions "
                                       f"({', '.join(dims) or 'none'})")
    return d


def _node_symbol(name, expr):
    return sp.MatrixSymbol(name, *expr.shape) if isinstance(expr, MatrixExpr) else sp.Symbol(name, real=True)


# ---- the catalogue ------------------------------------------------------------------------
def catalogue(extra=None, library: bool = True) -> list[Problem]:
    """Every problem, built-ins first (the seeds, then the library unless library=False), sorted by
    alias number; a reused id or alias is an error."""
    seen: dict[str, str] = {}
    out = []
    builtin = (catalogue_dir().resolve(), library_dir().resolve())
    for d in problem_dirs(extra, library):
        rank = 0 if d.resolve() in builtin else 1            # the user's folders come last
        for f in sorted(d.glob("*.toml")):
            p = _load_or_skip(f)
            if p is None:
                continue
            if p.id in seen and same_file(seen[p.id], f):       # a checkout's problems/ beside the installed copy
                continue
            for key, name in (("id", p.id), ("alias", p.alias)):   # ids and aliases share one namespace
                if name and name in seen:
                    raise ProblemSpecError(f"{key} {name!r} is already used by {seen[name]}", file=str(f), key=key)
            seen[p.id] = str(f)
            if p.alias:
                seen[p.alias] = str(f)
            out.append((rank, p))
    return [p for _, p in sorted(out, key=lambda rp: (alias_number(rp[1].alias), rp[0], rp[1].topic, rp[1].id))]


class ProblemFileWarning(UserWarning):
    """A file in a problems folder that cannot be loaded; it is skipped, the rest still work."""


def _load_or_skip(path: Path) -> Problem | None:
    """A folder's file, or None (with a warning naming the file and the reason) when it is broken.
    Only regular files are opened: a FIFO named x.toml would block every command."""
    try:
        if not path.is_file():
            return None
        return load_file(path)
    except OSError:
        return None
    except ProblemSpecError as e:
        warnings.warn(ProblemFileWarning(f"skipped {e}"), stacklevel=3)
        return None


def load(name, extra=None) -> Problem:
    """A problem by id, alias (problem1) or file path."""
    if isinstance(name, Problem):
        return name
    if str(name).endswith(".toml") and Path(name).is_file():
        return load_file(name)
    if not str(name).strip():              # (a library problem's alias is empty: "" names none)
        raise UnknownError("the problem's name is empty; give its id or alias (derive list shows them)")
    path = index.find(str(name), problem_dirs(extra))
    if path is not None:
        try:
            p = load_file(path)
        except ProblemSpecError:
            p = None                  # broken: the catalogue skips it with a warning
        if p is not None and name in (p.id, p.alias):
            return p
    problems = catalogue(extra)
    for p in problems:
        if name in (p.id, p.alias):
            return p
    named = [f"{p.alias} ({p.id})" if p.alias else p.id for p in problems if not p.topic]   # the library: by topic
    known = ", ".join(named + [f"the {len(problems) - len(named)} of the library (derive list)"] * (len(named) < len(problems)))
    hint = did_you_mean(name, [k for p in problems for k in (p.id, p.alias)])
    raise UnknownError(f"unknown problem {str(name)[:100]!r}{hint}; known: {known}")
