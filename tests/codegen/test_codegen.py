"""derive code: for every graded catalogue problem that asks gradients (and three problems written
for these tests), the generated module runs and its own gradient check passes; backward() agrees
with torch autograd through the module's forward(), and forward() with the engine's evaluator;
the printers agree with derive.expr.numeric on each construct; a golden module; the command line.

Regenerate the golden files after an intended change:  DERIVE_UPDATE_GOLDEN=1 python -m pytest tests/codegen/test_codegen.py
"""
from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from derive.cli import main
from derive.codegen.layout import helper_name, helper_source
from derive.codegen.printers import NumpyPrinter, TorchPrinter
from derive.codegen.writer import Namer, code
from derive.expr import functions as sy
from derive.expr.numeric import evaluate, rel_error
from derive.problem.load import catalogue, load
from derive.runtime.commandline import MARKER
from derive.verify.instances import point

HAVE_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
if HAVE_TORCH:
    import torch
DATA = Path(__file__).parent.parent / "data" / "code"
GOLDEN = Path(__file__).parent.parent / "golden"
UPDATE = os.environ.get("DERIVE_UPDATE_GOLDEN") == "1"


def _abstract(p) -> bool:
    return any(c.fname in p.scope.functions for e in p.equations for c in e.expr.atoms(sy.Fn, sy.Apply))


ASKING = [p for p in catalogue(library=False) if any(q.kind.trains and q.kind.graded for q in p.quantities)]
PROBLEMS = [p.id for p in ASKING] + sorted(str(f) for f in DATA.glob("*.toml"))
TORCH_RUNS = {"residual-relu", "batchnorm-backward", "tanh-softmax-net", "two-layer-classification-relu"}
RUNS = [(pid, "numpy") for pid in PROBLEMS] + [(pid, "torch") for pid in PROBLEMS if pid in TORCH_RUNS]


def _short(pid: str) -> str:
    return Path(pid).stem.replace("-", "_")


def test_every_graded_catalogue_problem_has_code_abstract_functions_by_stand_ins():
    """scalar-chain's f1, f2, f3 have no formula: the module names its stand-ins, to be replaced."""
    assert [p.id for p in ASKING if _abstract(p)] == ["scalar-chain"]
    assert len(PROBLEMS) >= 15
    src = code("scalar-chain")
    for f, stand_in in (("f1", "np.sin(x)"), ("f2", "np.tanh(x)"), ("f3", "np.logaddexp(0, x)")):
        assert f"def {f}(x):" in src and f"def {f}_prime(x):" in src and f"return {stand_in}" in src
    assert "a stand-in (f1 is abstract in the problem); replace it by the function meant" in src


# ---- python FILE.py: the module's own gradient check --------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every generated module started as `python FILE.py` at once, so the runs overlap."""
    folder = tmp_path_factory.mktemp("code")
    procs = {}
    for pid, fw in RUNS:
        if fw == "torch" and not HAVE_TORCH:
            continue
        path = folder / f"{_short(pid)}_{fw}.py"
        path.write_text(code(pid, fw, filename=path.name), encoding="utf-8")
        procs[pid, fw] = subprocess.Popen([sys.executable, path.name], cwd=folder, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("pid, framework", RUNS, ids=[f"{_short(p)}-{f}" for p, f in RUNS])
def test_the_generated_module_runs_and_its_gradient_check_passes(runs, pid, framework):
    if framework == "torch" and not HAVE_TORCH:
        pytest.skip("torch is not installed")
    proc = runs[pid, framework]
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, out + err
    assert "passed: max relative error" in out and not err
    for q in load(pid).quantities:          # every gradient the problem asks was checked
        if q.kind.trains:
            assert f"  {q.name} " in out, q.name


def test_a_failing_gradient_check_says_so_and_exits_1(tmp_path):
    source = code("two-hidden-deltas").replace("delta3 = sigma_prime(Z2) * drho_dH2",
                                               "delta3 = 1.01 * sigma_prime(Z2) * drho_dH2")
    assert "1.01 *" in source
    (tmp_path / "wrong.py").write_text(source)
    proc = subprocess.run([sys.executable, "wrong.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "FAILED: max relative error" in proc.stdout


# ---- backward() against torch autograd, forward() against the engine's evaluator ---------------
_MODULES: dict = {}


def _module(pid: str, framework: str, folder: Path):
    if (pid, framework) not in _MODULES:
        path = folder / f"imported_{_short(pid)}_{framework}.py"
        path.write_text(code(pid, framework), encoding="utf-8")
        spec = importlib.util.spec_from_file_location(f"derive_code_{_short(pid)}_{framework}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _MODULES[pid, framework] = mod
    return _MODULES[pid, framework]


def _numpy(v):
    return v.detach().numpy() if HAVE_TORCH and torch.is_tensor(v) else np.asarray(v, dtype=float)


@needs_torch
@pytest.mark.parametrize("pid", PROBLEMS, ids=[_short(p) for p in PROBLEMS])
def test_backward_agrees_with_torch_autograd(pid, tmp_path):
    p = load(pid)
    inst, env = point(p, 41)                     # the engine's own instance: its sizes, values, forward
    np_mod, torch_mod = _module(pid, "numpy", tmp_path), _module(pid, "torch", tmp_path)
    nodes = np_mod.forward(*(env[k] for k in p.inputs))
    for e in p.equations if not _abstract(p) else ():   # abstract f: the module's stand-in is not the engine's
        assert rel_error(nodes[e.name], env[e.name]) < 1e-12, e.name

    leaves = {k: torch.tensor(np.asarray(env[k], dtype=float), requires_grad=True) for k in p.inputs}
    tnodes = torch_mod.forward(*(leaves[k] for k in p.inputs))
    for t in tnodes.values():
        if t.requires_grad:
            t.retain_grad()
    if p.given:
        obj = sum((torch.tensor(_node_shaped(env[g], tnodes[n])) * tnodes[n]).sum() for g, n in p.given.items())
    else:
        obj = tnodes[p.output].sum()
    obj.backward()

    args = [env[k] for k in p.inputs] + [env[g] for g in p.given]
    got = {"numpy": np_mod.backward(*args),
           "torch": torch_mod.backward(*(torch.tensor(np.asarray(a, dtype=float)) for a in args))}
    for q in p.quantities:
        if not q.kind.trains:
            continue
        t = leaves.get(q.wrt, tnodes.get(q.wrt))
        want = t.grad.numpy() if t.grad is not None else np.zeros(t.shape)
        for fw, grads in got.items():
            g = _numpy(grads[q.name])
            if p.layout == "numerator" and g.ndim == 2 and g.shape != (1, 1):
                g = g.T
            assert rel_error(g, want) < 1e-9, (q.name, fw)


def _node_shaped(g, node):
    g = np.asarray(g, dtype=float)
    return g if g.shape == tuple(node.shape) else g.T


@needs_torch
def test_batchnorm_backward_agrees_with_a_hand_written_torch_forward(tmp_path):
    p = load("batchnorm-backward")
    _, env = point(p, 7)
    X, W, b, gamma, beta = (torch.tensor(env[k], requires_grad=True) for k in ("X", "W", "b", "gamma", "beta"))
    h = X @ W + b
    h.retain_grad()
    mu = h.mean(0, keepdim=True)
    var = ((h - mu) ** 2).mean(0, keepdim=True)
    y = gamma * (h - mu) / torch.sqrt(var + float(env["eps"][0, 0])) + beta
    (y * torch.tensor(env["dL/dy"])).sum().backward()
    got = _module("batchnorm-backward", "numpy", tmp_path).backward(*(env[k] for k in p.inputs), env["dL/dy"])
    for name, t in (("dL/dh", h), ("dL/dgamma", gamma), ("dL/dbeta", beta)):
        assert rel_error(got[name], t.grad.numpy()) < 1e-10, name


# ---- the printers, construct by construct, against derive.expr.numeric -------------------------------
N, D = sp.Symbol("N", positive=True, integer=True), sp.Symbol("D", positive=True, integer=True)
X, Y = sp.MatrixSymbol("X", N, D), sp.MatrixSymbol("Y", N, D)
b, v, a = sp.MatrixSymbol("b", 1, D), sp.MatrixSymbol("v", N, 1), sp.MatrixSymbol("a", 1, 1)
ONE_N, ONE_D = sp.OneMatrix(N, 1), sp.OneMatrix(D, 1)
POSITIVE = sp.HadamardProduct(X, X) + 2 * sp.OneMatrix(N, D)
EXPRESSIONS = [
    X + ONE_N * b, sp.HadamardProduct(X, ONE_N * b), ONE_N * b, X - ONE_N * a * ONE_D.T,
    ONE_N.T * X, X * ONE_D, ONE_N.T * X * ONE_D, sp.Rational(1, 1) / N * ONE_N.T * X, 2 / D * X * ONE_D,
    v * ONE_N.T * X, X * ONE_D * b, sp.Transpose(X) * v, -3 * sp.Transpose(X) * Y / 2,
    sp.HadamardPower(POSITIVE, -1), sp.HadamardPower(POSITIVE, sp.Rational(-3, 2)), sp.HadamardPower(X, 2),
    sp.HadamardProduct(sp.HadamardPower(POSITIVE, sp.Rational(1, 2)), Y), sp.HadamardProduct(-ONE_N * b / N, X),
    sp.DiagMatrix(v) * X, sp.Identity(N) * X + sp.ZeroMatrix(N, D), a * b, sp.Transpose(a) * b + b,
    sy.Softmax(v), sp.OneMatrix(N, D) - Y, sp.HadamardProduct(sp.OneMatrix(N, D), Y),
] + [sy.Apply(f, k, X) for f, k in (("sigma", 0), ("sigma", 1), ("sigma", 2), ("relu", 0), ("relu", 1),
                                       ("tanh", 1), ("softplus", 0), ("softplus", 1), ("exp", 1), ("log", 1),
                                       ("sech", 0), ("sech", 1), ("floor", 1), ("abs", 0), ("asinh", 0))]
ENV = {"X": np.array([[0.3, -1.2, 0.7], [1.5, 0.2, -0.4]]), "Y": np.array([[1.1, 0.5, -2.0], [0.4, 1.3, 0.9]]),
       "b": np.array([[0.5, -0.25, 2.0]]), "v": np.array([[0.8], [-1.1]]), "a": np.array([[1.7]])}
SIZES = {N: 2, D: 3}


def _run(expr, printer, framework):
    """Print expr, define the helpers it calls, and run the line with numpy or torch values."""
    line = printer.doprint(expr)
    ns = {"np": np}
    if framework == "torch":
        ns["torch"] = torch
    todo, done = sorted(printer.helpers), set()
    while todo:
        key = todo.pop()
        if key not in done:
            done.add(key)
            body, deps = helper_source(key, framework, printer)
            exec(f"def {helper_name(*key)}(x):\n    {body}\n", ns)
            todo += list(deps)
    values = {k: torch.tensor(x) if framework == "torch" else x for k, x in ENV.items()}
    return line, _numpy(eval(line, ns, {**values, "N": 2, "D": 3}))


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=[str(e) for e in EXPRESSIONS])
@pytest.mark.parametrize("framework", ["numpy", pytest.param("torch", marks=needs_torch)])
def test_printed_code_computes_what_the_engine_evaluates(expr, framework):
    printer = (NumpyPrinter if framework == "numpy" else TorchPrinter)(str)
    line, got = _run(expr, printer, framework)
    want = np.asarray(evaluate(expr, ENV, SIZES), dtype=float)
    assert got.shape == want.shape and rel_error(got, want) < 1e-12, line


@pytest.mark.parametrize("expr, text", [
    (ONE_N.T * X, "X.sum(axis=0, keepdims=True)"),
    (X * ONE_D, "X.sum(axis=1, keepdims=True)"),
    (ONE_N.T * X / N, "X.mean(axis=0, keepdims=True)"),
    (X + ONE_N * b, "X + b"),
    (sp.Transpose(X) * v, "X.T @ v"),
    (sp.HadamardProduct(X, sp.HadamardPower(Y, -1)), "X / Y"),
    (sp.OneMatrix(N, D) - Y, "1 - Y"),
    (a * b, "a @ b"),
    (a * sp.MatrixSymbol("e", 1, 1), "a * e"),
    (sy.Apply("sigma", 1, X), "sigma_prime(X)"),
])
def test_the_engine_forms_read_as_numpy_people_write_them(expr, text):
    assert NumpyPrinter(str).doprint(expr) == text


def test_names_become_identifiers():
    names = Namer()
    assert [names(n) for n in ("dL/dh1", "dl/dz3@", "lambda", "np", "d_H", "dL_dh1")] == \
        ["dL_dh1", "dl_dz3", "lambda_", "np_", "d_H", "dL_dh1_2"]


# ---- golden modules, hostile text, the command line ---------------------------------------------
@pytest.mark.parametrize("pid", ["two-hidden-deltas", "batchnorm-backward"])
def test_generated_numpy_module_matches_golden(pid):
    path, text = GOLDEN / f"{pid}.numpy.py", code(pid)
    if UPDATE or not path.exists():
        if os.environ.get("CI") and not UPDATE:
            pytest.fail(f"{path.name} is missing: generate it with DERIVE_UPDATE_GOLDEN=1, review it, commit it")
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.skip(f"wrote new golden file {path.name}")
    assert text == path.read_text(encoding="utf-8"), \
        f"{path.name} differs; after an intended change rerun with DERIVE_UPDATE_GOLDEN=1"


HOSTILE = '''id = "hostile-code"
title = "ends here\\"\\"\\" ; import os ; os.system('echo owned') ; \\"\\"\\" \\\\n"
statement = "nothing"
forward = ["forward = lambda * np", "nodes = tanh(forward) + x"]
output = "nodes"
quantities = ["dnodes/dlambda", "dnodes/dnp", "dnodes/dx"]

[symbols]
lambda = "scalar"
np = "scalar"
x = "scalar"
'''


def test_problem_text_and_names_cannot_escape_into_the_code(tmp_path):
    (tmp_path / "hostile.toml").write_text(HOSTILE)
    source = code(tmp_path / "hostile.toml")
    tree = ast.parse(source)
    doc = ast.get_docstring(tree)
    assert "os.system" in doc and '"""' not in doc
    top = {type(n).__name__ for n in tree.body}
    assert top <= {"Expr", "Import", "FunctionDef", "Assign", "If"}
    assert sum(isinstance(n, ast.Expr) for n in tree.body) == 1        # only the docstring
    (tmp_path / "hostile.py").write_text(source)
    proc = subprocess.run([sys.executable, "hostile.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "owned" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_cli_writes_a_file_it_may_overwrite_and_refuses_one_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "deltas.py"
    assert main(["code", "problem6", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith(f"# {MARKER}") and "def backward(" in text
    ast.parse(text)
    assert main(["code", "problem6", "--framework", "torch", "-o", str(out)]) == 0   # derive's own file
    assert "import torch" in out.read_text()
    foreign = tmp_path / "mine.py"
    foreign.write_text("print('my work')\n")
    capsys.readouterr()
    assert main(["code", "problem6", "-o", str(foreign)]) == 2
    assert "Error: " in capsys.readouterr().err and foreign.read_text() == "print('my work')\n"
    assert main(["code", "problem6", "-o", str(foreign), "--force"]) == 0


def test_cli_prints_the_module_without_o(capsys):
    assert main(["code", "two-hidden-deltas"]) == 0
    assert capsys.readouterr().out == code("two-hidden-deltas")


@pytest.mark.parametrize("pid, message", [
    ("dense-shapes-params", "dense-shapes-params asks no gradient"),
    ("normalization-concepts", "normalization-concepts asks no gradient"),
])
def test_cli_refuses_what_has_no_code_in_one_error_line(pid, message, capsys):
    assert main(["code", pid]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err and err.count("\n") == 1 and "Traceback" not in err
