"""The layout of a module `derive code` writes: the helper functions it may call (sigma,
relu', softmax, ...), the imports per framework, and the template with its gradient check.

The check is generic Python over a few tables the writer fills in (DIMS, INPUTS, SHAPES,
GRADIENTS) and `_objective`, the forward pass again with one node that can be pinned.
"""
from __future__ import annotations

import re
from string import Template

from derive.errors import UnsupportedError
from derive.expr import functions as sy

SOFTMAX = ("softmax", 0)
# An abstract function (f1, f2 in a problem file) has no formula: the module computes with a stand-in
# per function, to be replaced by the function meant.
STAND_INS = (   # (its name, then (numpy body, torch body) for derivative order 0, 1, 2)
    ("sin", ("np.sin(x)", "torch.sin(x)"), ("np.cos(x)", "torch.cos(x)"), ("-np.sin(x)", "-torch.sin(x)")),
    ("tanh", ("np.tanh(x)", "torch.tanh(x)"), ("1 - np.tanh(x) ** 2", "1 - torch.tanh(x) ** 2"),
     ("-2 * np.tanh(x) * (1 - np.tanh(x) ** 2)", "-2 * torch.tanh(x) * (1 - torch.tanh(x) ** 2)")),
    ("softplus", ("np.logaddexp(0, x)", "torch.nn.functional.softplus(x)"),
     ("1 / (1 + np.exp(-x))", "torch.sigmoid(x)"), ("np.exp(-x) / (1 + np.exp(-x)) ** 2", "torch.sigmoid(x) * (1 - torch.sigmoid(x))")),
)


def stand_in(fname: str, order: int, abstract: tuple, framework: str) -> tuple[str, str]:
    """(body, what) of the stand-in for abstract function `fname` (derivative `order` at most 2)."""
    word, *bodies = STAND_INS[abstract.index(fname) % len(STAND_INS)]
    if order >= len(bodies):
        raise UnsupportedError(f"{fname}{chr(39) * order}: the code's stand-in for an abstract function has "
                               "derivatives up to the second only")
    body = bodies[order][framework == "torch"]
    what = (f"{fname}{chr(39) * order}, with {fname} = {word}: a stand-in ({fname} is abstract "
            "in the problem); replace it by the function meant")
    return "return " + body, what


def helper_name(fname: str, order: int) -> str:
    return fname + ("_prime" + (str(order) if order > 1 else "") if order else "")


def helper_source(key, framework: str, printer) -> tuple[str, tuple]:
    """The body of helper `key` = (fname, order) in x, and the helpers it calls."""
    if key == SOFTMAX:
        return "e = {m}.exp(x - x.max())\n    return e / e.sum()".format(m=printer.module), ()
    fname, order = key
    row = sy.FUNCTIONS[fname]
    bodies = row.torch if framework == "torch" else row.numpy
    if order < len(bodies) and bodies[order]:          # the function table's code form
        body = bodies[order]
        return (body if "return " in body else "return " + body), _calls(body)
    body = sy.activation_derivative(*key)
    before = set(printer.helpers)
    text = printer.doprint(body)
    deps = tuple(printer.helpers - before)
    if sy.x_ not in body.free_symbols:     # a constant derivative keeps the argument's shape
        text = "0 * x" if body == 0 else f"{text} + 0 * x"
    return "return " + text, deps


ONE_HOT_DRAW = {   # Problem.onehot_sums: one 1 in all of a vector, in each row, in each column
    "all": "np.eye(v.size)[rng.integers(v.size)].reshape(v.shape)",
    "rows": "np.eye(shape[1])[rng.integers(shape[1], size=shape[0])]",
    "columns": "np.eye(shape[0])[:, rng.integers(shape[0], size=shape[1])]",
}


def one_hot_draw(sums: tuple) -> str:
    """The expression drawing a one-hot input `name` of `shape` in the module's _draw."""
    out = ONE_HOT_DRAW["all"]
    for where in ("rows", "columns"):
        names = tuple(n for n, w in sums if w == where)
        if names:
            out = f"{ONE_HOT_DRAW[where]} if name in {names!r} else {out}"
    return out


def _calls(body: str) -> tuple:
    """The helpers a code body calls: sigma(x) is ("sigma", 0), sigma_prime(x) ("sigma", 1)."""
    out = []
    for ident in re.findall(r"(?<![\w.])([A-Za-z]\w*)\(", body):
        m = re.fullmatch(r"(\w+?)_prime(\d*)", ident)
        if ident in sy.FUNCTIONS:
            out.append((ident, 0))
        elif m and m[1] in sy.FUNCTIONS:
            out.append((m[1], int(m[2] or 1)))
    return tuple(dict.fromkeys(out))


IMPORTS = {"numpy": "import sys\n\nimport numpy as np", "torch": "import sys\n\nimport numpy as np\nimport torch"}
FRAMEWORK_VALUES = {
    "numpy": "def _framework(values):\n    \"\"\"The draws as the module computes with them (numpy arrays already).\"\"\"\n"
             "    return dict(values)\n\n\ndef _array(v):\n    return np.asarray(v, dtype=float)",
    "torch": "def _framework(values):\n    \"\"\"numpy draws as float64 tensors.\"\"\"\n"
             "    return {k: torch.as_tensor(v, dtype=torch.float64) for k, v in values.items()}\n\n\n"
             "def _array(v):\n    return v.detach().numpy() if torch.is_tensor(v) else np.asarray(v, dtype=float)",
}
TEMPLATE = Template('''"""$docstring
"""
$imports


${helpers}def forward($inputs):
    """Every node of the forward pass, by name."""
$forward


def backward($args):
    """$backward_doc"""
$backward


$check_header
DIMS = $dims
INPUTS = $input_names
SHAPES = $shapes  # the inputs, then the upstream gradients
POSITIVE, ONEHOT = $positive, $onehot
GRADIENTS = $gradients  # quantity, the node it is the gradient at, returned transposed


def _objective(values, node=None, value=None):
    """The scalar differentiated; with `node`, that node is set to `value` (finite differences
    at an intermediate node)."""
$unpack_values
$objective


$framework_values


def _draw(rng):
    """Distinct random sizes for the dimensions (a missing transpose cannot hide) and values,
    scaled by 1/sqrt(the longer axis) so that wide layers do not saturate."""
    sizes = $draw_sizes
    values = {}
    for name, shape in SHAPES.items():
        shape = tuple(sizes.get(d, d) for d in shape)
        v = rng.normal(size=shape) / np.sqrt(max(shape, default=1))
        if name in POSITIVE:
            v = np.abs(v) + 0.1
        if name in ONEHOT:
            v = $onehot_draw
        values[name] = v if shape else float(v)
    return sizes, values


def _error(values, nodes, node, grad, step=1e-6):
    """Relative error of grad against central differences at node: entry by entry, or along
    three random directions for a node of more than $limit entries."""
    x0 = np.array(values[node] if node in INPUTS else _array(nodes[node]), dtype=float)
    base = _framework(values)

    def f(x):
        v = x.reshape(x0.shape) if x0.ndim else float(x[0])
        if node in INPUTS:
            return _objective(_framework({**values, node: v}))
        return _objective(base, node, _framework({node: v})[node])
    n = x0.size
    directions = np.eye(n) if n <= $limit else np.random.default_rng(7).normal(size=(3, n))
    flat = x0.reshape(-1)
    want = np.array([(f(flat + step * d) - f(flat - step * d)) / (2 * step) for d in directions])
    got = directions @ np.reshape(grad, -1)
    scale = max(np.linalg.norm(got), np.linalg.norm(want))
    return float(np.linalg.norm(got - want) / scale) if scale > 1e-12 else float(np.linalg.norm(got - want))


def main(seed=0, tolerance=$tolerance):
    """backward() against central finite differences at random sizes and values
    (`python FILE.py SEED` draws others)."""
    sizes, values = _draw(np.random.default_rng(seed))
    args = _framework(values)
    grads = backward(*(args[k] for k in SHAPES))
    nodes = forward(*(args[k] for k in INPUTS))
    at = ", ".join(f"{k} = {v}" for k, v in sizes.items())
    print(f"gradient check{' at ' + at if at else ''}:")
    worst = 0.0
    for name, node, transposed in GRADIENTS:
        got = _array(grads[name])
        err = _error(values, nodes, node, got.T if transposed else got)
        worst = max(worst, err)
        print(f"  {name:<14} relative error {err:.1e}")
    ok = worst <= tolerance
    print(f"{'passed' if ok else 'FAILED'}: max relative error {worst:.1e} (tolerance {tolerance:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
''')
