"""Issue 26, item 1: no traceback from any forward-equation shape or `given` table. Random small
problems over scalars (1×1 in a matrix problem), vectors and matrices, constants, renames, the
function table's functions and given gradients on any node: each must load or fail with one
ProblemSpecError, and a loaded one must solve (and verify) or fail with a DeriveError."""
import random

import pytest

from derive.errors import DeriveError, ProblemSpecError
from derive.problem.load import load_file
from derive.verify.solve import solve

SHAPES = {"s": (1, 1), "x": ("n", 1), "r": (1, "n"), "A": ("n", "n"), "B": ("n", "m"), "c": ("m", 1)}
SMOOTH = ["sigma", "tanh", "exp", "softplus", "gelu", "silu", "erf"]
KINKED = ["relu", "abs"]


def _pick(rng, shapes, shape=None):
    names = [k for k, v in shapes.items() if shape is None or v == shape]
    return rng.choice(names) if names else None


def _equation(rng, shapes):
    """(right-hand side, its shape) from the names defined so far."""
    u = _pick(rng, shapes)
    su = shapes[u]
    same = _pick(rng, shapes, su)
    kind = rng.randrange(12)
    if kind == 0:
        return f"{u} + {same}", su
    if kind == 1:
        return f"1 - {u}", su
    if kind == 2:
        return f"(1 - s) {u} + s/2", su
    if kind == 3:
        return f"{u} ⊙ {same}", su
    if kind == 4:
        return f"{rng.choice(SMOOTH + KINKED)}({u})", su
    if kind == 5:
        return f"{u}^T", (su[1], su[0])
    if kind == 6:
        right = [k for k, v in shapes.items() if v[0] == su[1]]
        if right:
            v = rng.choice(right)
            return f"{u} {v}", (su[0], shapes[v][1])
    if kind == 7:
        return f"sum({u})", (1, 1)
    if kind == 8:
        axis = rng.choice([0, 1])
        return f"mean({u}, {axis})", (1, su[1]) if axis == 0 else (su[0], 1)
    if kind == 9:
        return f"{u}", su                                 # a rename: f = f1
    if kind == 10:
        return f"pi * {u} / 2 + e", su
    return "x^T A x", (1, 1)


def _problem(rng):
    shapes = dict(SHAPES)
    forward = []
    for k in range(rng.randint(1, 4)):
        rhs, shape = _equation(rng, shapes)
        forward.append(f"f{k} = {rhs}")
        shapes[f"f{k}"] = shape
    last = f"f{len(forward) - 1}"
    lines = ['id = "fuzz"', 'title = "fuzz"', 'dims = ["n", "m"]', "positive = [\"s\"]"]
    given = {}
    if rng.random() < 0.5 or shapes[last] != (1, 1):
        nodes = list(shapes) + ["nowhere"]
        for node in rng.sample(nodes, rng.randint(1, 2)):
            given[rng.choice([f"dL/d{node}", f"dq/d{node}", "delta", f"dL/d{last}"])] = node
        lines.append('output = "L"')
    asked = [f"dL/d{k}" if given else f"d{last}/d{k}" for k in SHAPES if rng.random() < 0.5] or \
            ["dL/dx" if given else f"d{last}/dx"]
    quoted = ", ".join(f'"{q}"' for q in asked)
    lines += ["forward = [" + ", ".join(f'"{f}"' for f in forward) + "]", f"quantities = [{quoted}]", "[symbols]"]
    lines += [f'{k} = ["{a}", "{b}"]'.replace('"1"', "1") if (a, b) != (1, 1) else f'{k} = "scalar"'
              for k, (a, b) in SHAPES.items()]
    if given:
        lines += ["[given]"] + [f'"{g}" = "{n}"' for g, n in given.items()]
    return "\n".join(lines) + "\n", any(f in "".join(forward) for f in KINKED)


@pytest.mark.parametrize("seed", range(int(__import__("os").environ.get("FUZZ_SEEDS", 40))))
def test_random_forward_equations_and_given_tables_never_raise_anything_else(tmp_path, seed):
    rng = random.Random(seed)
    text, kinked = _problem(rng)
    f = tmp_path / f"fuzz{seed}.toml"
    f.write_text(text)
    try:
        load_file(f)
    except ProblemSpecError:
        return
    try:
        sol = solve(str(f))
    except DeriveError:
        return
    bad = [c for c in sol.checks if not c.verified]
    assert not bad or kinked, (text, bad)            # silently wrong is the worst failure
