"""Jacobians across chains of operations (issue 11): each problem under tests/data/jacobian/ derives,
verifies by finite differences of the whole chain, and matches torch.autograd.functional.jacobian;
students' forms of the answer are graded by what they mean."""
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import derive
from derive.cli import main
from derive.engine.backprop import derive as derivation_of
from derive.expr.numeric import evaluate, rel_error
from derive.problem import kinds
from derive.verify.instances import forward, instance

try:
    import torch
except ImportError:               # CI installs the CPU build; elsewhere the autograd tests skip
    torch = None

DATA = Path(__file__).parent.parent / "data" / "jacobian"
PROBLEMS = sorted(p.name for p in DATA.glob("*.toml"))


@pytest.fixture(scope="module")
def solved():
    return {name: derive.solve(str(DATA / name)) for name in PROBLEMS}


@pytest.mark.parametrize("name", PROBLEMS)
def test_every_jacobian_derives_and_verifies_by_finite_differences(solved, name):
    sol = solved[name]
    assert sol.checks and all(c.verified for c in sol.checks), [(c.name, c.max_rel_error) for c in sol.checks]
    for r in (r for r in sol.derivation.results if r.quantity.kind == kinds.JACOBIAN):
        of, wrt = (sol.problem.scope.symbols[n] for n in (r.quantity.of, r.quantity.wrt))
        assert r.shape == (max(of.shape, key=lambda d: d != 1), max(wrt.shape, key=lambda d: d != 1))


# ---- against torch autograd: the forward pass written again in torch, by hand ----------------------
def _sig(v):
    return torch.sigmoid(v)


# problem file, quantity -> (the torch function of the `wrt` value, given the forward values env)
TORCH = {
    ("mlp.toml", "dz2/dx"): lambda e: lambda x: e["W2"] @ _sig(e["W1"] @ x + e["b1"]) + e["b2"],
    ("mlp.toml", "dz2/dz1"): lambda e: lambda z1: e["W2"] @ _sig(z1) + e["b2"],
    ("mlp-rows.toml", "dz2/dx"): lambda e: lambda x: _sig(x @ e["W1"] + e["b1"]) @ e["W2"] + e["b2"],
    ("mlp-rows.toml", "dh1/dx"): lambda e: lambda x: _sig(x @ e["W1"] + e["b1"]),
    ("products.toml", "dy/dx"): lambda e: lambda x: x @ (x.T @ x),
    ("products.toml", "ds/dx"): lambda e: lambda x: x.T @ x,
    ("products.toml", "dq/dx"): lambda e: lambda x: (x.T @ x) * x,
    ("products.toml", "dv/dx"): lambda e: lambda x: (e["W"] @ x).T @ e["W"],
    ("products.toml", "dw/dx"): lambda e: lambda x: _w((e["W"] @ x).T @ e["W"]),
    ("products.toml", "dw/dt"): lambda e: lambda t: _w(t.T @ e["W"]),
    ("products.toml", "dm/dx"): lambda e: lambda x: torch.softmax(x, dim=0) * x + x ** 2,
    ("residual.toml", "dz/dx"): lambda e: lambda x: x + e["W"] @ torch.relu(x),
    ("tanh-softmax-rows.toml", "dp/dx"): lambda e: lambda x: torch.softmax(torch.tanh(x @ e["W"] + e["b"]), dim=1),
    ("tanh-softmax-rows.toml", "dp/dz"): lambda e: lambda z: torch.softmax(torch.tanh(z), dim=1),
    ("gates.toml", "dy/dx"): lambda e: lambda x: _gates(e, x)[0],
    ("gates.toml", "dr/dx"): lambda e: lambda x: _gates(e, x)[1],
}


def _w(v):
    return v * v + 2 * v


def _gates(e, x):
    u = e["W"] @ x
    g = u * torch.sigmoid(u)
    r = g.sum()
    return 2 * g + e["c"].reshape(()) * u + r * u, r.reshape(1, 1)


def test_every_jacobian_has_a_torch_oracle():
    asked = {(name, q.name) for name in PROBLEMS for q in derive.load(str(DATA / name)).quantities
             if q.kind == kinds.JACOBIAN}
    assert asked == set(TORCH)


def test_the_derivative_of_a_vector_output_is_read_as_its_jacobian():
    p = derive.load(str(DATA / "mlp.toml"))
    assert [(q.name, q.kind, q.of, q.wrt) for q in p.quantities] == [
        ("dz2/dx", kinds.JACOBIAN, "z2", "x"), ("dz2/dz1", kinds.JACOBIAN, "z2", "z1")]


@pytest.mark.parametrize("name, quantity", sorted(TORCH))
@pytest.mark.parametrize("seed", [3, 4])
def test_a_jacobian_matches_torch_autograd(solved, name, quantity, seed):
    if torch is None:
        pytest.skip("torch is not installed")
    sol = solved[name]
    p = sol.problem
    inst = instance(p, seed)
    env = forward(p, inst)
    r = sol.derivation.result(quantity)
    got = evaluate(r.closed, env, inst.dims, inst.functions)
    tenv = {k: torch.tensor(np.asarray(v, dtype=float), dtype=torch.float64) for k, v in env.items()}
    fn = TORCH[(name, quantity)](tenv)
    want = torch.autograd.functional.jacobian(fn, tenv[r.quantity.wrt]).numpy()
    assert np.shape(got) == (want.size // np.size(env[r.quantity.wrt]), np.size(env[r.quantity.wrt]))
    assert rel_error(got, want.reshape(np.shape(got))) < 1e-10


# ---- the forms: a product of the local Jacobians, in numerator layout ------------------------------
def test_the_mlp_jacobian_is_the_product_of_the_local_jacobians(solved):
    r = solved["mlp.toml"].derivation.result("dz2/dx")
    W1, W2 = (solved["mlp.toml"].problem.scope.symbols[n] for n in ("W1", "W2"))
    factors = r.closed.args
    assert (factors[0], factors[-1]) == (W2, W1) and len(factors) == 3      # W2 diag(σ'(z1)) W1
    assert type(factors[1]).__name__ == "DiagMatrix"


def test_an_allowed_list_writes_the_jacobian_in_those_names_only(solved):
    r = solved["mlp-rows.toml"].derivation.result("dh1/dx")
    assert {str(s) for s in r.expr.atoms(sp.MatrixSymbol)} == {"x", "W1", "b1"}
    assert {str(s) for s in r.closed.atoms(sp.MatrixSymbol)} == {"z1", "W1"}     # the closed form keeps the node


def test_a_deep_chain_is_one_product_of_its_local_jacobians(tmp_path):
    layers = 60                     # 120 equations: the forward pass takes them in order, no deep recursion
    forward_eqs, symbols, prev = [], ['x = ["n", 1]'], "x"
    for i in range(1, layers + 1):
        forward_eqs += [f'"z{i} = W{i} {prev} + b{i}"', f'"h{i} = tanh(z{i})"']
        symbols += [f'W{i} = ["n", "n"]', f'b{i} = ["n", 1]']
        prev = f"h{i}"
    f = tmp_path / "deep.toml"
    f.write_text(f'id = "deep"\ntitle = "deep"\ndims = ["n"]\nforward = [{", ".join(forward_eqs)}]\n'
                 f'quantities = ["d{prev}/dx"]\n[symbols]\n' + "\n".join(symbols) + "\n")
    p = derive.load(str(f))
    r = derivation_of(p).results[0]
    assert len(r.closed.args) == 2 * layers
    inst = instance(p, 5)
    env = forward(p, inst)
    want = np.eye(np.size(env["x"]))             # the chain rule by hand, in numpy
    for i in range(1, layers + 1):
        want = np.diag(1 - np.tanh(env[f"z{i}"]).ravel() ** 2) @ env[f"W{i}"] @ want
    assert rel_error(evaluate(r.closed, env, inst.dims, inst.functions), want) < 1e-10


def test_solve_shows_the_jacobian(capsys):
    assert main(["solve", str(DATA / "mlp.toml")]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("dz2/dx = "))
    assert "W2*diag(" in line and line.rstrip().endswith("*W1   (k×n)"), line
    assert "dz2/dx       verified" in out
    assert "Backward pass" not in out             # a vector output has no gradient to pull back


# ---- grading: what the answer means, not how it is written --------------------------------------
VERDICTS = [
    ("mlp.toml", "dz2/dx", "W2 diag(sigma'(z1)) W1", "correct", ()),
    ("mlp.toml", "dz2/dx", "W2 diag(h1 ⊙ (1 - h1)) W1", "correct", ()),
    ("mlp.toml", "dz2/dx", r"W_2 \operatorname{diag}(\sigma'(z_1)) W_1", "correct", ()),
    ("mlp.toml", "dz2/dx", "W2 diag(h1) diag(1 - h1) W1", "correct", ()),
    ("mlp.toml", "dz2/dx", "W2 (diag(h1) - diag(h1 ⊙ h1)) W1", "correct", ()),
    ("mlp.toml", "dz2/dx", "W1^T diag(sigma'(z1)) W2^T", "incorrect", ("transpose",)),
    ("mlp.toml", "dz2/dx", "W2 W1", "incorrect", ("missing_factor",)),
    ("mlp.toml", "dz2/dx", "W2 diag(sigma(z1)) W1", "incorrect", ("derivative",)),
    ("mlp.toml", "dz2/dx", "dz2/dx", "invalid", ("not_allowed",)),
    ("mlp.toml", "dz2/dz1", "W2 diag(h1 ⊙ (1 - h1))", "correct", ()),
    ("mlp.toml", "dz2/dx", "dz2/dz1 W1", "correct", ()),          # the chain rule through a named Jacobian
    ("mlp-rows.toml", "dz2/dx", "W2^T diag(h1 ⊙ (1 - h1)) W1^T", "correct", ()),
    ("mlp-rows.toml", "dz2/dx", "W1 diag(sigma'(z1)) W2", "incorrect", ("transpose",)),
    ("mlp-rows.toml", "dh1/dx", "diag(sigma'(x W1 + b1)) W1^T", "correct", ()),
    ("mlp-rows.toml", "dh1/dx", "diag(h1 ⊙ (1 - h1)) W1^T", "invalid", ("not_allowed",)),
    ("residual.toml", "dz/dx", "I + W diag(relu'(x))", "correct", ()),
    ("residual.toml", "dz/dx", "W diag(relu'(x))", "incorrect", ("missing_term",)),
    ("residual.toml", "dz/dx", "I + W", "incorrect", ("missing_factor",)),
    ("tanh-softmax-rows.toml", "dp/dx", "(diag(p) - p^T p) diag(1 - a^2) W^T", "correct", ()),
    ("tanh-softmax-rows.toml", "dp/dx", "(diag(p) - p^T p) W^T", "incorrect", ("missing_factor",)),
    ("gates.toml", "dy/dx", "(2 diag(s + u ⊙ s ⊙ (1 - s)) + (c + r) I + u (s + u ⊙ s ⊙ (1 - s))^T) W",
     "correct", ()),
]


@pytest.mark.parametrize("name, quantity, answer, verdict, diagnosis", VERDICTS)
def test_a_jacobian_answer_is_graded_by_its_meaning(name, quantity, answer, verdict, diagnosis):
    r = derive.check(str(DATA / name), quantity, answer)
    assert (r.verdict, tuple(r.diagnosis)[:len(diagnosis)]) == (verdict, diagnosis), r.feedback
