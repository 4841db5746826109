"""The function table: one row per named scalar function (activations and the rest a class
writes), and the SymPy nodes that apply them (to a number, or entrywise to a matrix).

A row holds everything every stage needs to know about its function: the scalar body in x_,
names and aliases, the LaTeX commands that read as it, how it typesets (LaTeX, graph label,
title word), its numpy and torch forms for generated code, its kinks, its derivatives where
sympy.diff is not the answer (piecewise functions, or a derivative that is another row:
softplus' = sigma, abs' = sign) and its derivative identity in forward names (sigma' = p(1 - p)
for p = sigma(z)). The parser, the printers, codegen, the graph, the variants table and the
engine read these rows; a new function is one `register(Function(...))`.
"""
from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.expr import matrix as mx

x_ = sp.Symbol("_x")      # the variable of function bodies; no problem names a symbol _x


@dataclass(frozen=True)
class Function:
    name: str                       # as the text form writes it: sigma, relu, gelu
    body: sp.Expr                   # the scalar function of x_
    aliases: tuple = ()             # other spellings in files and answers: sigmoid, σ, ReLU
    commands: tuple = ()            # LaTeX commands read as it (\tanh, \ln, \sgn): its name or an alias
    latex: str = ""                 # how it typesets; default \operatorname{name}
    prime_latex: str = ""           # its first derivative typeset, {} the argument (relu': 1[x > 0])
    word: str = ""                  # in a title (sigmoid); default the name
    svg: str = ""                   # a LaTeX command's text in a graph label (\tanh -> tanh)
    native: type | None = None      # SymPy's own class of it, where SymPy writes it (sp.cosh in a body)
    scalar: Callable | None = None  # what a number's f(x) is built with (sp.exp: scalar problems)
    numeric: Callable | None = None  # numpy evaluation of `native`
    np_call: str = ""               # numpy (and torch) function of the same name: np.tanh(x)
    torch_call: str = ""            # torch's name where it differs (asinh for arcsinh)
    numpy: tuple = ()               # generated-code bodies in x per derivative order ("": printed from
                                    # the body; a body with its own `return` is the helper's whole body)
    torch: tuple = ()
    derivatives: tuple = ()         # f', f'', ... in x_ where sympy.diff is wrong (piecewise); the last repeats
    prime: str = ""                 # the row that is its derivative (softplus -> sigma, abs -> sign)
    identity: Callable | None = None  # f'(z) in p = f(z) and z: the textbook's sigma' = p ⊙ (1 - p)
    kink: Callable | None = None    # distance of an argument to the points finite differences avoid

    @property
    def tex(self) -> str:
        return self.latex or rf"\operatorname{{{self.name}}}"


def _one_minus(p):
    return sp.MatAdd(mx.ones(*p.shape), -p)


def _to_zero(a):
    return np.abs(a)


def _to_integer(a):
    return np.abs(a - np.round(a))


_erf = np.vectorize(math.erf, otypes=[float])
_SIGMA = 1 / (1 + sp.exp(-x_))
FUNCTIONS: dict[str, Function] = {}
# views the readers use, kept in step with FUNCTIONS by register/unregister
ACTIVATIONS: dict[str, sp.Expr] = {}       # name -> body
FUNCTION_ALIASES: dict[str, str] = {}      # alias -> name
KINKS: dict[str, Callable] = {}            # name -> distance to its kinks
NATIVE: dict[type, Function] = {}          # SymPy class -> row
_COMMANDS = [frozenset()]                  # latex_commands(), computed once per change of the table
# names that are a function only after a library prefix (torch.mm, torch.t): bare, they stay symbols
PREFIXED = {"mm": "matmul", "mv": "matmul", "mul": "hadamard", "t": "transpose", "sigmoid": "sigma", "exp": "exp",
            "max": "amax", "min": "amin", "amax": "amax", "amin": "amin"}    # np.max(z, 0): an axis, not maximum
MATRIX_FUNCTIONS = {"sum", "mean", "softmax", "transpose", "hadamard", "max", "min", "diag", "outer", "matmul",
                    "heaviside"}
# numpy / torch / Matlab spellings of the matrix functions (the prefix np., torch. is the lexer's)
MATRIX_ALIASES = {"maximum": "max", "minimum": "min", "multiply": "hadamard", "dot": "matmul", "matmul": "matmul",
                  "diagflat": "diag", "diag_embed": "diag"}


def register(fn: Function) -> Function:
    """Add (or replace) a row; every reader sees it at once."""
    FUNCTIONS[fn.name] = fn
    _refresh()
    return fn


def unregister(name: str) -> None:
    FUNCTIONS.pop(name, None)
    _refresh()


@contextlib.contextmanager
def registered(fn: Function):
    """A row for the duration of a block (tests)."""
    register(fn)
    try:
        yield fn
    finally:
        unregister(fn.name)


def _refresh():
    for view in (ACTIVATIONS, FUNCTION_ALIASES, KINKS, NATIVE):
        view.clear()
    FUNCTION_ALIASES.update(MATRIX_ALIASES)
    for f in FUNCTIONS.values():
        ACTIVATIONS[f.name] = f.body
        FUNCTION_ALIASES.update({a: f.name for a in f.aliases})
        if f.kink:
            KINKS[f.name] = f.kink
        if f.native:
            NATIVE[f.native] = f
    _COMMANDS[0] = frozenset(c for f in FUNCTIONS.values() for c in f.commands)
    activation_derivative.cache_clear()


def row(name: str) -> Function | None:
    return FUNCTIONS.get(FUNCTION_ALIASES.get(name, name))


def latex_commands() -> frozenset:
    """LaTeX commands that name a function (\\tanh, \\ln, \\sgn)."""
    return _COMMANDS[0]


def svg_words() -> dict:
    """LaTeX command -> its text in a graph label (\\tanh -> tanh)."""
    return {c: f.svg or c for f in FUNCTIONS.values() for c in f.commands}


@functools.lru_cache(maxsize=1024)
def activation_derivative(name: str, order: int) -> sp.Expr:
    """The body of name^(order) in x_."""
    f = FUNCTIONS[name]
    if not order:
        return f.body
    if f.prime:
        return activation_derivative(f.prime, order - 1)
    if f.derivatives:
        return f.derivatives[min(order, len(f.derivatives)) - 1]
    return sp.diff(f.body, x_, order)


def derivative(fname: str, order: int, arg):
    """fname^(order)(arg) as the engine writes it: another row where that is the derivative
    (softplus'(z) is sigma(z), abs'(w) is sign(w))."""
    f = FUNCTIONS.get(fname)
    if f is not None and f.prime and order >= 1:
        return derivative(f.prime, order - 1, arg)
    return apply(fname, order, arg)


for _f in (
    Function("sigma", _SIGMA, aliases=("sigmoid", "σ", "expit"), latex=r"\sigma", word="sigmoid",
             numpy=("1 / (1 + np.exp(-x))", "sigma(x) * (1 - sigma(x))"),
             torch=("torch.sigmoid(x)", "torch.sigmoid(x) * (1 - torch.sigmoid(x))"),
             identity=lambda p, z: sp.HadamardProduct(p, _one_minus(p))),
    Function("tanh", sp.tanh(x_), aliases=("Tanh",), commands=("tanh",), latex=r"\tanh", native=sp.tanh,
             scalar=sp.tanh, numeric=np.tanh, np_call="tanh",
             numpy=("", "1 - np.tanh(x) ** 2"), torch=("", "1 - torch.tanh(x) ** 2"),
             identity=lambda p, z: sp.MatAdd(mx.ones(*p.shape), -sp.HadamardPower(p, 2))),
    Function("relu", sp.Max(0, x_), aliases=("ReLU", "Relu"), latex=r"\operatorname{ReLU}", word="ReLU",
             prime_latex=r"\mathbb{{1}}\left[{} > 0\right]", derivatives=(sp.Heaviside(x_, 0), sp.Integer(0)),
             numpy=("np.maximum(x, 0)", "np.where(x > 0, 1.0, 0.0)"),
             torch=("torch.clamp(x, min=0)", "(x > 0).to(x.dtype)"), kink=_to_zero),
    Function("softplus", sp.log(1 + sp.exp(x_)), latex=r"\operatorname{softplus}", prime="sigma",
             numpy=("np.logaddexp(0, x)", "sigma(x)"), torch=("torch.nn.functional.softplus(x)", "torch.sigmoid(x)")),
    Function("exp", sp.exp(x_), commands=("exp",), latex=r"\exp", native=sp.exp, scalar=sp.exp, numeric=np.exp,
             np_call="exp", numpy=("", "np.exp(x)"), torch=("", "torch.exp(x)"), identity=lambda p, z: p),
    Function("log", sp.log(x_), aliases=("ln",), commands=("log", "ln"), latex=r"\log", native=sp.log,
             scalar=sp.log, numeric=np.log, np_call="log", numpy=("", "1 / x"), torch=("", "1 / x")),
    Function("sqrt", sp.sqrt(x_), commands=("sqrt",), latex=r"\operatorname{sqrt}", scalar=sp.sqrt, np_call="sqrt"),
    Function("abs", sp.Abs(x_), aliases=("absolute",), latex=r"\operatorname{abs}", native=sp.Abs, numeric=np.abs, np_call="abs",
             prime="sign", kink=_to_zero),
    Function("cosh", sp.cosh(x_), commands=("cosh",), latex=r"\cosh", native=sp.cosh, numeric=np.cosh,
             np_call="cosh"),
    Function("sinh", sp.sinh(x_), commands=("sinh",), latex=r"\sinh", native=sp.sinh, numeric=np.sinh,
             np_call="sinh"),
    Function("sech", sp.sech(x_), commands=("sech",), native=sp.sech, numeric=lambda a: 1 / np.cosh(a),
             numpy=("1 / np.cosh(x)",), torch=("1 / torch.cosh(x)",)),
    Function("csch", sp.csch(x_), commands=("csch",), native=sp.csch, numeric=lambda a: 1 / np.sinh(a),
             numpy=("1 / np.sinh(x)",), torch=("1 / torch.sinh(x)",)),
    Function("coth", sp.coth(x_), commands=("coth",), latex=r"\coth", native=sp.coth,
             numeric=lambda a: 1 / np.tanh(a), numpy=("1 / np.tanh(x)",), torch=("1 / torch.tanh(x)",)),
    Function("asinh", sp.asinh(x_), aliases=("arsinh", "arcsinh"), commands=("arsinh", "arcsinh"),
             native=sp.asinh, numeric=np.arcsinh, np_call="arcsinh", torch_call="asinh"),
    Function("acosh", sp.acosh(x_), aliases=("arcosh", "arccosh"), commands=("arcosh", "arccosh"),
             native=sp.acosh, numeric=np.arccosh, np_call="arccosh", torch_call="acosh"),
    Function("atanh", sp.atanh(x_), aliases=("artanh", "arctanh"), commands=("artanh", "arctanh"),
             native=sp.atanh, numeric=np.arctanh, np_call="arctanh", torch_call="atanh"),
    Function("acoth", sp.acoth(x_), aliases=("arcoth", "arccoth"), native=sp.acoth,
             numeric=lambda a: np.arctanh(1 / np.asarray(a, dtype=float)),
             numpy=("np.arctanh(1 / x)",), torch=("torch.atanh(1 / x)",)),
    Function("floor", sp.floor(x_), commands=("floor",), native=sp.floor, numeric=np.floor, np_call="floor",
             derivatives=(sp.Integer(0),), kink=_to_integer),
    Function("ceil", sp.ceiling(x_), aliases=("ceiling",), commands=("ceil",), native=sp.ceiling,
             numeric=np.ceil, np_call="ceil", derivatives=(sp.Integer(0),), kink=_to_integer),
    Function("sign", sp.sign(x_), aliases=("sgn",), commands=("sgn", "sign"), native=sp.sign, numeric=np.sign,
             np_call="sign", derivatives=(sp.Integer(0),), kink=_to_zero),
    Function("erf", sp.erf(x_), commands=("erf",), native=sp.erf, numeric=_erf,
             numpy=("import math\n    return np.vectorize(math.erf, otypes=[float])(x)",), torch=("torch.erf(x)",)),
    Function("gelu", x_ * (1 + sp.erf(x_ / sp.sqrt(2))) / 2, aliases=("GELU",), latex=r"\operatorname{GELU}",
             word="GELU", numpy=("x * (1 + erf(x / np.sqrt(2))) / 2",
                                 "(1 + erf(x / np.sqrt(2))) / 2 + x * np.exp(-x ** 2 / 2) / np.sqrt(2 * np.pi)"),
             torch=("torch.nn.functional.gelu(x)",
                    "(1 + torch.erf(x / np.sqrt(2))) / 2 + x * torch.exp(-x ** 2 / 2) / np.sqrt(2 * np.pi)")),
    Function("silu", x_ * _SIGMA, aliases=("SiLU",), latex=r"\operatorname{SiLU}", word="SiLU",
             numpy=("x * sigma(x)", "sigma(x) * (1 + x * (1 - sigma(x)))"),
             torch=("torch.nn.functional.silu(x)", "torch.sigmoid(x) * (1 + x * (1 - torch.sigmoid(x)))"),
             identity=lambda p, z: sp.MatAdd(apply("sigma", 0, z),
                                             sp.HadamardProduct(p, _one_minus(apply("sigma", 0, z))))),
):
    FUNCTIONS[_f.name] = _f
_refresh()


class _Named:
    """args = (name, order, argument): the function's name and how often it is differentiated."""

    @property
    def fname(self) -> str:
        return self.args[0].name          # what str() prints for a Symbol, without the printer

    @property
    def order(self) -> int:
        return int(self.args[1])


class Fn(_Named, sp.Function):
    """A named scalar function or its derivative: Fn(name, order, x) is name^(order)(x)."""

    nargs = 3

    def fdiff(self, argindex=3):
        if argindex != 3:
            return sp.S.Zero
        return Fn(self.args[0], self.order + 1, self.args[2])


class Apply(_Named, MatrixExpr):
    """A named scalar function (or its derivative) applied entrywise to a matrix."""

    def __new__(cls, fname, order, arg):
        return sp.Basic.__new__(cls, sp.Symbol(str(fname)), sp.Integer(order), arg)

    @property
    def arg(self):
        return self.args[2]

    @property
    def shape(self):
        return self.args[2].shape

    def _entry(self, i, j, **kwargs):
        return Fn(self.args[0], self.args[1], self.args[2]._entry(i, j, **kwargs))


class Softmax(MatrixExpr):
    """softmax over the entries of a column vector."""

    def __new__(cls, arg):
        return sp.Basic.__new__(cls, arg)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return self.args[0].shape


def apply(fname: str, order: int, arg):
    """f^(order)(arg), entrywise when arg is a matrix; a number's exp/log/sqrt/tanh stay SymPy's own."""
    if isinstance(arg, MatrixExpr):
        return Apply(fname, order, arg)
    f = FUNCTIONS.get(fname)
    if order == 0 and f is not None and f.scalar is not None:
        return f.scalar(arg)
    return Fn(sp.Symbol(fname), order, arg)
