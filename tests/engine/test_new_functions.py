"""Issue 26, part A: abs, sign, erf, gelu, silu, softplus and the constants pi and e, each checked
against torch (its own functions and autograd), and the textbook problems written with them."""
import numpy as np
import pytest
import sympy as sp

torch = pytest.importorskip("torch")
F = torch.nn.functional

from derive import solve
from derive.expr import functions as fns
from derive.expr.numeric import evaluate, rel_error
from derive.notation import build as reader
from derive.problem.load import load_file
from derive.verify.instances import adjoint_values, forward, instance

DATA = "tests/data/textbook26"
X = np.array([[-2.1, -0.7, -0.05, 0.3, 1.2, 2.6]])
TORCH = {"abs": torch.abs, "sign": torch.sign, "erf": torch.erf, "gelu": F.gelu, "silu": F.silu,
         "softplus": F.softplus, "sigma": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


@pytest.mark.parametrize("name", sorted(TORCH))
def test_each_row_and_its_derivatives_match_torch(name):
    """The row's value, first and second derivative (as the engine evaluates them) against torch's
    function and autograd (the second derivative by autograd of the first, where torch has one)."""
    t = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    y = TORCH[name](t)
    (d1,) = torch.autograd.grad(y.sum(), t, create_graph=True)
    got = [np.asarray(evaluate(fns.activation_derivative(name, k), {"__x": X}, {}), dtype=float) * np.ones_like(X)
           for k in (0, 1)]
    assert rel_error(got[0], y.detach().numpy()) < 1e-12
    assert rel_error(got[1], d1.detach().numpy()) < 1e-12
    if d1.requires_grad:
        (d2,) = torch.autograd.grad(d1.sum(), t)
        second = np.asarray(evaluate(fns.activation_derivative(name, 2), {"__x": X}, {}), dtype=float) * np.ones_like(X)
        assert rel_error(second, d2.numpy(force=True)) < 1e-10 or np.abs(second - d2.numpy(force=True)).max() == 0


def test_derivatives_that_are_other_rows_are_written_as_them():
    z = sp.MatrixSymbol("z", 3, 1)
    assert fns.derivative("abs", 1, z) == fns.Apply("sign", 0, z)
    assert fns.derivative("softplus", 1, z) == fns.Apply("sigma", 0, z)
    assert fns.derivative("softplus", 2, z) == fns.Apply("sigma", 1, z)


def _at(sol, seed):
    inst = instance(sol.problem, seed)
    env = forward(sol.problem, inst)
    return inst, env, adjoint_values(sol.derivation, inst, env)


def _t(a):
    return torch.tensor(np.asarray(a, dtype=float), dtype=torch.float64, requires_grad=True)


def _grad(sol, name, inst, full):
    return np.asarray(evaluate(sol.derivation.result(name).closed, full, inst.dims), dtype=float)


def test_l1_regression_reads_sign_and_matches_autograd():
    sol = solve(f"{DATA}/l1-regression.toml")
    from derive.notation.text import text
    assert "sign(w)" in text(sol.derivation.result("dL/dw").expr)
    assert "relu" not in text(sol.derivation.result("dL/dw").expr)
    inst, env, full = _at(sol, 4)
    X_, w, y = torch.tensor(env["X"]), _t(env["w"]), torch.tensor(env["y"])
    lam = float(env["lambda"][0, 0])
    r = X_ @ w - y
    ((r * r).sum() / r.shape[0] + lam * torch.abs(w).sum()).backward()
    assert rel_error(_grad(sol, "dL/dw", inst, full), w.grad.numpy()) < 1e-10


def test_silu_gelu_layer_matches_autograd():
    sol = solve(f"{DATA}/silu-gelu.toml")
    assert all(c.verified for c in sol.checks)
    inst, env, full = _at(sol, 6)
    X_, W1, W2 = torch.tensor(env["X"]), _t(env["W1"]), _t(env["W2"])
    Z1 = X_ @ W1
    Z1.retain_grad()
    Z2 = F.silu(Z1) @ W2
    Z2.retain_grad()
    (F.gelu(Z2) ** 2).sum().div(2).backward()
    for name, t in (("dL/dZ2", Z2), ("dL/dZ1", Z1), ("dL/dW1", W1)):
        assert rel_error(_grad(sol, name, inst, full), t.grad.numpy()) < 1e-10, name


def test_pi_and_e_are_constants_in_files_and_answers(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('id = "consts"\ntitle = "constants"\nforward = ["y = exp(-x^2/2)/sqrt(2 pi) + e^x"]\n'
                 'quantities = ["dy/dx"]\n[symbols]\nx = "scalar"\n')
    p = load_file(f)
    x = 0.37
    want = np.exp(-x * x / 2) / np.sqrt(2 * np.pi) + np.exp(x)
    assert float(evaluate(p.equations[0].expr, {"x": x}, {})) == pytest.approx(want, rel=1e-14)
    for answer, fmt in (("-x exp(-x^2/2)/sqrt(2*pi) + e^x", "text"),
                        (r"-\frac{x e^{-x^2/2}}{\sqrt{2\pi}} + e^{x}", "latex")):
        got = reader.read(answer, p.scope, fmt)
        assert float(evaluate(got, {"x": x}, {})) == pytest.approx(-x * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
                                                                   + np.exp(x), rel=1e-14)
    assert all(c.verified for c in solve(str(f)).checks)


def test_gelu_tanh_approximation_prints_its_constants_as_written(tmp_path):
    f = tmp_path / "g.toml"
    f.write_text('id = "gelu-tanh"\ntitle = "GELU, tanh form"\ndims = ["N", "H"]\n'
                 'forward = ["A = 0.5 Z ⊙ (1 + tanh(0.7978845608 (Z + 0.044715 Z^3)))", "L = sum(A)"]\n'
                 'quantities = ["dL/dZ"]\n[symbols]\nZ = ["N", "H"]\n')
    sol = solve(str(f))
    from derive.notation.latex import latex
    from derive.notation.text import text
    closed = sol.derivation.result("dL/dZ").expr
    for printed in (text(closed), latex(closed)):
        assert "0.7978845608" in printed and not any(len(n) > 16 for n in __import__("re").findall(r"\d+", printed))
    inst, env, full = _at(sol, 1)
    Z = _t(env["Z"])
    F.gelu(Z, approximate="tanh").sum().backward()     # torch's constant is sqrt(2/pi) = 0.7978845608028654
    assert rel_error(_grad(sol, "dL/dZ", inst, full), Z.grad.numpy()) < 1e-9
