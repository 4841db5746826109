"""`derive code`: a problem's forward pass and derived backward pass as a numpy or torch module.

The module has `forward(inputs...)` (every node, by name), `backward(inputs..., upstream
gradients...)` (one line per step of the derivation, the step names as variables, a dict of the
asked gradients) and, under `if __name__ == "__main__":`, a gradient check: random sizes and
values, central finite differences of the scalar the problem differentiates, the max relative
error, exit status 1 above the tolerance. It is what an instructor hands out as the reference
implementation of the homework the sheet derives.
"""
from __future__ import annotations

import argparse
import builtins
import functools
import json
import keyword
import re
import sys
import textwrap

import sympy as sp

from derive.codegen.layout import (
    FRAMEWORK_VALUES,
    IMPORTS,
    SOFTMAX,
    TEMPLATE,
    helper_name,
    helper_source,
    one_hot_draw,
    stand_in,
)
from derive.codegen.printers import NumpyPrinter, TorchPrinter
from derive.engine.backprop import INTERNAL, derive
from derive.errors import UnsupportedError, UsageError
from derive.expr import functions as sy
from derive.expr import matrix as mx
from derive.problem.load import Problem, load
from derive.runtime import commandline as cliutil
from derive.verify.instances import SIZES, dimension_expressions, fit_sizes

FRAMEWORKS = {"numpy": NumpyPrinter, "torch": TorchPrinter}
_RESERVED = set(keyword.kwlist) | set(dir(builtins)) | {
    "np", "torch", "sys", "forward", "backward", "main", "nodes", "values", "node", "value", "softmax",
    "DIMS", "INPUTS", "SHAPES", "POSITIVE", "ONEHOT", "GRADIENTS"} | {helper_name(f, k) for f in sy.ACTIVATIONS for k in range(4)}
TOLERANCE = 1e-5
ENTRYWISE_LIMIT = 60


def code(problem_or_solution, framework: str = "numpy", extra=None, filename: str = "") -> str:
    """The module's source: a Problem, a Solution, or a problem's id, alias or file."""
    if framework not in FRAMEWORKS:
        raise UsageError(f"unknown framework {framework!r}; known: {', '.join(FRAMEWORKS)}")
    derivation = getattr(problem_or_solution, "derivation", None)
    if derivation is None:
        p = problem_or_solution if isinstance(problem_or_solution, Problem) else load(problem_or_solution, extra)
        _supported(p)
        derivation = derive(p)
    else:
        _supported(derivation.problem)
    return _Writer(derivation, framework, filename).module()


def _supported(p: Problem) -> None:
    trains = [q.name for q in p.quantities if q.kind.trains]
    if not trains:
        raise UnsupportedError(f"{p.id} asks no gradient (its quantities are {_kinds(p)}), so there is no "
                               "backward pass to write as code; derive code needs a problem that asks gradients")


def _kinds(p: Problem) -> str:
    kinds = sorted({str(q.kind) for q in p.quantities})
    return ", ".join(kinds[:-1]) + " and " + kinds[-1] if len(kinds) > 1 else kinds[0]


def _literal(s: str) -> str:
    return json.dumps(s)            # a Python string literal for any text (quotes, backslashes escaped)


def _tuple(items) -> str:
    items = [_literal(str(i)) for i in items]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _prose(s: str) -> str:
    """Problem-file text made safe inside a docstring or a comment (one line, no quote or backslash)."""
    return re.sub(r"[\x00-\x1f\x7f\\\"]+", " ", " ".join(s.split()))


class Namer:
    """Problem names -> Python identifiers: dL/dh1 -> dL_dh1, lambda -> lambda_, unique."""

    def __init__(self):
        self.of: dict = {}
        self.used: set = set()

    def __call__(self, name: str) -> str:
        name = name[:-len(INTERNAL)] if name.endswith(INTERNAL) else name
        if name not in self.of:
            ident = re.sub(r"\W", "_", name, flags=re.ASCII) or "_"
            ident = "_" + ident if ident[0].isdigit() else ident
            ident = ident + "_" if ident in _RESERVED else ident
            base, n = ident, 2
            while ident in self.used:
                ident, n = f"{base}_{n}", n + 1
            self.of[name] = ident
            self.used.add(ident)
        return self.of[name]


class _Writer:
    def __init__(self, derivation, framework: str, filename: str):
        self.d, self.p, self.framework = derivation, derivation.problem, framework
        self.filename = filename
        self.names = Namer()
        p = self.p
        for n in list(p.inputs) + [str(d) for d in p.scope.dims.values()] + [e.name for e in p.equations]:
            self.names(n)
        self.printer = FRAMEWORKS[framework](self.names)
        self.printer.abstract = tuple(sorted(p.scope.functions))
        self.trains = [q for q in p.quantities if q.kind.trains]
        self.internal = {node: sym for node, (sym, _, _) in derivation.adjoints.items()}
        for g, node in p.given.items():
            self.internal.setdefault(node, self._given_symbol(g, node))

    def _given_symbol(self, gname, node):
        sym = self.p.scope.symbols[gname]
        shape = self.p.node_shape(node)
        return sym if mx.shape_of(sym) == shape else sp.MatrixSymbol(gname + INTERNAL, *shape)

    def expr(self, e) -> str:
        return self.printer.doprint(e)

    # ---- pieces ---------------------------------------------------------------------------------
    def dims_lines(self, lines: list[str]) -> list[str]:
        """`N, D = X.shape` for the dimensions the lines use, read off the inputs' shapes."""
        dims = {self.names(str(d)): d for d in self.p.scope.dims.values()}
        bare = [re.sub(r'"[^"]*"', "", line.split("  # ")[0]) for line in lines]     # not keys or comments
        wanted = [n for n in dims if any(re.search(rf"\b{n}\b", line) for line in bare)]
        out, found = [], set()
        for name in self.p.inputs:
            shape = self.p.node_shape(name) or ()
            axes = [(k, self.names(str(d))) for k, d in enumerate(shape) if d in dims.values()]
            axes = [(k, n) for k, n in axes if n in wanted and n not in found]
            if not axes:
                continue
            var = self.names(name)
            if len(axes) == 2 and len(shape) == 2 and axes[0][1] != axes[1][1]:
                out.append(f"{axes[0][1]}, {axes[1][1]} = {var}.shape")
            else:
                axes = [axes[0]]
                out.append(f"{axes[0][1]} = {var}.shape[{axes[0][0]}]")
            found |= {n for _, n in axes}
        missing = [n for n in wanted if n not in found]
        if missing:
            raise UnsupportedError(f"the dimension {missing[0]} is not the size of any input's axis, so the "
                                   "code cannot read it off the inputs")
        return out

    def forward_lines(self, pin=()) -> list[str]:
        out = []
        for eq in self.p.equations:
            var = self.names(eq.name)
            out.append(f"{var} = {self.expr(eq.expr)}")
            if eq.name in pin:
                out.append(f"{var} = value if node == {_literal(eq.name)} else {var}")
        return self.dims_lines(out) + out

    def needed_steps(self) -> list:
        """The steps the asked gradients need, in the derivation's order (output first)."""
        by_symbol = {str(self.internal[s.node]): s for s in self.d.steps}
        needed = {str(self.internal[q.wrt]) for q in self.trains if q.wrt in self.internal}
        for s in reversed(self.d.steps):
            if str(self.internal[s.node]) in needed:
                needed |= {str(a) for a in s.general.free_symbols if str(a) in by_symbol}
        return [s for s in self.d.steps if str(self.internal[s.node]) in needed]

    def backward_lines(self) -> tuple[list[str], list[str]]:
        """(the body's lines, the forward nodes it reads)."""
        p, steps = self.p, self.needed_steps()
        nodes = {e.name for e in p.equations}
        used = sorted({str(a) for s in steps for a in s.general.free_symbols if str(a) in nodes},
                      key=[e.name for e in p.equations].index)
        body = []
        for g, node in p.given.items():
            if str(self.internal[node]).endswith(INTERNAL):
                body.append(f"{self.names(g)} = {self.names(g)}.T  # in {node}'s shape (the problem's layout "
                            "is numerator)")
        defined = {str(self.internal[n]) for n in p.given.values()}
        for s in steps:
            sym = str(self.internal[s.node])
            for a in s.general.free_symbols:
                if str(a) not in defined and str(a) == str(self.internal.get(p.output)):
                    body.append(f"{self.names(str(a))} = 1.0")
                    defined.add(str(a))
            line = f"{self.names(sym)} = {self.expr(s.general)}"
            comment = f"# {_prose(s.rule)}" if s.rule.strip() else ""
            if comment and len(line) + len(comment) + 2 > 110:
                body.append(comment)
                comment = ""
            body.append(f"{line}  {comment}" if comment else line)
            defined.add(sym)
        body.append("return " + _dict([(q.name, self.result(q)) for q in self.trains], 11))
        return body, used

    def result(self, q) -> str:
        p, shape = self.p, self.p.node_shape(q.wrt)
        if q.wrt not in self.d.adjoints and q.wrt not in p.given.values():
            return self.expr(sp.ZeroMatrix(*shape)) if shape else "0.0"       # the output does not depend on it
        var = self.names(str(self.internal[q.wrt]))
        return f"{var}.T" if p.layout == "numerator" and shape and shape != (1, 1) else var

    def helpers(self) -> list[str]:
        out, done, todo = [], set(), sorted(self.printer.helpers)
        while todo:
            key = todo.pop(0)
            if key in done:
                continue
            done.add(key)
            if key[0] in self.printer.abstract:
                (body, what), deps = stand_in(*key, self.printer.abstract, self.framework), ()
            else:
                body, deps = helper_source(key, self.framework, self.printer)
                what = "softmax over the entries of a vector" if key == SOFTMAX else \
                    f"{key[0]}{chr(39) * key[1]}, entrywise"
            todo += [d for d in deps if d not in done]
            out.append(f"def {helper_name(*key)}(x):\n    \"\"\"{what}\"\"\"\n    {body}\n")
        return sorted(out)

    # ---- the module -----------------------------------------------------------------------------
    def module(self) -> str:
        p, names = self.p, self.names
        inputs = [names(n) for n in p.inputs]
        givens = [names(g) for g in p.given]
        fwd = self.forward_lines()
        bwd, used = self.backward_lines()
        bwd_dims = self.dims_lines(bwd)
        unpack = [f"{', '.join(names(n) for n in used)} = {', '.join(f'nodes[{_literal(n)}]' for n in used)}"] \
            if used else []
        bwd = bwd_dims + [f"nodes = forward({', '.join(inputs)})"] * bool(used) + unpack + bwd
        ret = "return " + _dict([(e.name, names(e.name)) for e in p.equations], 11)
        pinned = {q.wrt for q in self.trains if q.wrt not in p.inputs}
        objective = self.forward_lines(pinned) + [self.objective()]
        helpers = self.helpers()          # after printing: the calls decide which helpers exist
        return TEMPLATE.substitute(
            docstring=self.docstring(), imports=IMPORTS[self.framework],
            helpers="\n\n".join(helpers) + "\n\n" if helpers else "",
            inputs=", ".join(inputs), args=", ".join(inputs + givens),
            forward=_body(fwd + [ret]), backward=_body(bwd),
            backward_doc=self.backward_doc(), check_header=self.check_header(),
            dims=_tuple(str(d) for d in p.scope.dims.values()),
            draw_sizes=self.draw_sizes(),
            shapes=_dict([(n, self.shape(n)) for n in list(p.inputs)] +
                         [(g, self.shape(node, public=True)) for g, node in p.given.items()], 9),
            input_names=_tuple(p.inputs), positive=_tuple(p.positive), onehot=_tuple(p.onehot),
            onehot_draw=one_hot_draw(p.onehot_sums),
            gradients="(\n" + "".join(f"    ({_literal(q.name)}, {_literal(q.wrt)}, {self.transposed(q)}),\n"
                                      for q in self.trains) + ")",
            unpack_values=_body([f"{', '.join(inputs)}{',' * (len(inputs) == 1)} = (values[k] for k in INPUTS)"]),
            objective=_body(objective), tolerance=f"{TOLERANCE:.0e}".replace("e-0", "e-"), limit=ENTRYWISE_LIMIT,
            framework_values=FRAMEWORK_VALUES[self.framework])

    def draw_sizes(self) -> str:
        if self.fixed is None:
            return f"dict(zip(DIMS, rng.permutation(range(2, {2 + max(7, len(self.p.scope.dims))}))[:len(DIMS)].tolist()))"
        return "{" + ", ".join(f"{_literal(d)}: {n}" for d, n in self.fixed.items()) + \
            "}  # fixed: every convolution and pooling size comes out whole"

    @functools.cached_property
    def fixed(self) -> dict | None:
        """Sizes for a problem whose sizes are expressions (conv2d's H - k + 1): fitted once."""
        if not dimension_expressions(self.p):
            return None
        return fit_sizes(self.p, {d: SIZES[0][i % len(SIZES[0])] for i, d in enumerate(self.p.scope.dims)})

    def shape(self, node, public=False) -> str:
        s = self.p.node_shape(node)
        if not s:
            return "()"
        s = (s[1], s[0]) if public and self.p.layout == "numerator" and s != (1, 1) else s
        if self.fixed is not None:
            at = {self.p.scope.dims[d]: n for d, n in self.fixed.items()}
            s = tuple(d if d.is_Atom else d.xreplace(at) for d in s)
        return "(" + ", ".join(_literal(str(d)) if not d.is_Integer else str(d) for d in s) + ")"

    def transposed(self, q) -> bool:
        shape = self.p.node_shape(q.wrt)
        return bool(self.p.layout == "numerator" and shape and shape != (1, 1))

    def objective(self) -> str:
        p = self.p
        if p.given:
            terms = []
            for g, node in p.given.items():
                t = ".T" if self.p.layout == "numerator" and str(self.internal[node]).endswith(INTERNAL) else ""
                term = f"values[{_literal(g)}]{t} * {self.names(node)}"
                terms.append(f"({term}).sum()" if p.scope.matrix_mode else term)
            return f"return float({' + '.join(terms)})"
        out = self.names(p.output)
        return f"return float({out}.sum())" if p.scope.matrix_mode else f"return float({out})"

    def docstring(self) -> str:
        p = self.p
        name = f"{p.id} ({p.alias})" if p.alias else p.id
        given = f", given the upstream gradient{'s' * (len(p.given) > 1)} {', '.join(p.given)}" if p.given else ""
        text = [f"Written by `derive code {p.id}{' --framework torch' * (self.framework == 'torch')}` from the "
                "derivation on the solution sheet: forward() is the problem's forward pass and returns every "
                f"node; backward() computes {', '.join(q.name for q in self.trains)} one chain-rule step a "
                f"line{given}."]
        if p.layout == "numerator":
            text.append("Each step works in its node's shape; the gradients are returned transposed, in the "
                        "numerator layout the problem asks for.")
        left = [q.name for q in p.quantities if q.kind.asks_gradient and not q.kind.trains]
        if left:
            text.append(f"Not computed here: {', '.join(left)} (Jacobian{'s' * (len(left) > 1)}, shown on the sheet).")
        run = f"`python {_prose(self.filename)}`" if self.filename else "this file as a script"
        text.append(f"Run {run} to check the gradients against central finite differences at random sizes.")
        return "\n\n".join(textwrap.fill(_prose(t), 96, break_on_hyphens=False, break_long_words=False)
                           for t in [f"Reference implementation of {name}: {p.title}.", " ".join(text)])

    def check_header(self) -> str:
        run = f"python {_prose(self.filename)}" if self.filename else "run this file as a script"
        return f"# ---- the gradient check: {run} ".ljust(99, "-")

    def backward_doc(self) -> str:
        asked = ", ".join(q.name for q in self.trains)
        text = f"The gradient{'s' * (len(self.trains) > 1)} {asked} by the derived formulas, one step a line."
        return textwrap.fill(_prose(text), 96, subsequent_indent="    ", break_on_hyphens=False)


def _dict(pairs, before: int) -> str:
    """A dict literal, on one line when it fits after `before` characters, else one entry a line."""
    items = [f"{_literal(k)}: {v}" for k, v in pairs]
    one = "{" + ", ".join(items) + "}"
    if before + len(one) <= 100:
        return one
    return "{\n" + "".join(f"    {i},\n" for i in items) + "}"


def _body(lines) -> str:
    return "\n".join("    " + line.replace("\n", "\n    ") if line else "" for line in lines)


# ---- the command line -----------------------------------------------------------------------
def cmd_code(args) -> int:
    if args.output:                      # refuse a path before generating anything
        cliutil.check_output(args.output, args.force)
    text = code(args.problem, args.framework, getattr(args, "problems", None),
                filename=args.output.rsplit("/", 1)[-1] if args.output else "")
    if not args.output:
        sys.stdout.write(text)
        return 0
    cliutil.write_text(args.output, text, args.force)
    print(f"wrote {args.output}: run `python {args.output}` for its gradient check")
    return 0


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "code", help="the derived gradients as a numpy or torch module (a reference implementation)",
        description="Write a Python module with forward(...) (the problem's forward pass, every node) and "
                    "backward(...) (every asked gradient by the derived formulas, one line per step of the "
                    "derivation, the step names as variables), and a gradient check: `python FILE.py` "
                    "compares backward() with central finite differences at random sizes and exits 1 above "
                    "the tolerance. Without -o the module goes to standard output.",
        epilog="examples:\n  derive code problem6 -o two_hidden.py && python two_hidden.py\n"
               "  derive code batchnorm-backward --framework torch -o bn_torch.py",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("problem", help="id (two-hidden-deltas), alias (problem6) or a .toml file")
    p.add_argument("--framework", choices=tuple(FRAMEWORKS), default="numpy",
                   help="numpy arrays (default) or torch tensors (float64, no autograd)")
    p.add_argument("-o", "--output", metavar="FILE.py", help="write to FILE.py instead of standard output; an "
                   "existing file is overwritten only if derive wrote it (see --force)")
    p.add_argument("--force", action="store_true", help="overwrite FILE.py even if derive did not write it")
    p.set_defaults(func=cmd_code)
