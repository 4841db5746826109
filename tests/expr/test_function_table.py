"""One row per function (issue 19, "one table per concept"): a function added by one registration
call is parsed (text and LaTeX), derived, verified, printed in LaTeX, text, numpy and torch, and
drawn; removed again, it is unknown. Expectations come from torch (its Mish and autograd)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

torch = pytest.importorskip("torch")

from derive import solve
from derive.codegen import writer
from derive.errors import ProblemSpecError
from derive.expr import functions as fns
from derive.expr.numeric import evaluate, rel_error
from derive.notation import build as reader
from derive.notation.latex import latex
from derive.notation.text import text
from derive.problem.load import load_file
from derive.render import graph, svg
from derive.verify.instances import adjoint_values, forward, instance

ROOT = Path(__file__).resolve().parents[2]
MISH = fns.Function("mish", fns.x_ * sp.tanh(sp.log(1 + sp.exp(fns.x_))), aliases=("Mish",),
                    latex=r"\operatorname{Mish}", numpy=("x * np.tanh(np.logaddexp(0, x))",),
                    torch=("torch.nn.functional.mish(x)",))
PROBLEM = '''id = "mish-layer"
title = "A Mish layer"
dims = ["N", "D", "H"]
forward = ["Z = X W", "A = mish(Z)", "L = sum(A ⊙ A)/2"]
quantities = ["dL/dZ", "dL/dW"]
[symbols]
X = ["N", "D"]
W = ["D", "H"]
'''


@pytest.fixture
def mish(tmp_path):
    f = tmp_path / "mish.toml"
    f.write_text(PROBLEM)
    with fns.registered(MISH):
        yield f


def test_a_function_is_one_row(mish, tmp_path):
    p = load_file(mish)
    # parsed: text and LaTeX, by its name and its alias
    for answer, fmt in (("mish(Z) ⊙ A", "text"), (r"\operatorname{Mish}(Z) \odot A", "latex"),
                        ("Mish(Z) ⊙ A", "text")):
        assert reader.read(answer, p.scope, fmt) == sp.HadamardProduct(fns.Apply("mish", 0, p.scope.symbols["Z"]),
                                                                       p.scope.symbols["A"])
    # derived and verified, against torch autograd
    sol = solve(str(mish))
    assert all(c.verified for c in sol.checks)
    inst = instance(sol.problem, 3)
    env = forward(sol.problem, inst)
    full = adjoint_values(sol.derivation, inst, env)
    X, W = torch.tensor(env["X"]), torch.tensor(env["W"], requires_grad=True)
    Z = X @ W
    Z.retain_grad()
    (torch.nn.functional.mish(Z) ** 2).sum().div(2).backward()
    for name, t in (("dL/dZ", Z), ("dL/dW", W)):
        got = evaluate(sol.derivation.result(name).closed, full, inst.dims)
        assert rel_error(got, t.grad.numpy()) < 1e-10, name
    # printed: LaTeX and text (which reads back)
    closed = sol.derivation.result("dL/dZ").expr
    assert r"\operatorname{Mish}'" in latex(closed) and "mish'(Z)" in text(closed)
    assert reader.read(text(closed), p.scope, "text") is not None
    # numpy and torch modules: the row's forms, and their own gradient checks pass
    for framework, form in (("numpy", "np.tanh(np.logaddexp(0, x))"), ("torch", "torch.nn.functional.mish(x)")):
        code = writer.code(sol, framework=framework)
        assert form in code
        out = tmp_path / f"mish_{framework}.py"
        out.write_text(code)
        run = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and "passed" in run.stdout, run.stdout + run.stderr
    # drawn: the graph's operator node carries the row's label, in TikZ and in the SVG
    assert r"\operatorname{Mish}" in graph.tikz(sol.problem)
    assert ">Mish<" in svg.svg(sol.problem)


def test_the_row_is_gone_when_unregistered(mish, tmp_path):
    fns.unregister("mish")
    try:
        f = tmp_path / "after.toml"
        f.write_text(PROBLEM.replace('"mish-layer"', '"mish-after"'))
        with pytest.raises(ProblemSpecError, match="unknown symbol mish"):
            load_file(f)
        assert "mish" not in fns.ACTIVATIONS and "Mish" not in fns.FUNCTION_ALIASES
    finally:
        fns.register(MISH)


def test_one_grep_for_a_functions_latex_form_finds_one_table():
    """Each row's LaTeX form is written as a string once, in expr/functions.py (the printers, the
    graph and the variants table read it there)."""
    sources = {p.relative_to(ROOT).as_posix(): p.read_text() for p in (ROOT / "derive").rglob("*.py")}
    for row in fns.FUNCTIONS.values():
        literal = re.compile(r"""r["']%s["']|["']%s["']""" % (re.escape(row.tex), re.escape(row.tex.replace("\\", "\\\\"))))
        hits = sorted(path for path, src in sources.items() if literal.search(src))
        assert hits in ([], ["derive/expr/functions.py"]), (row.tex, hits)
