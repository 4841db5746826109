"""Numerator layout with a given upstream gradient: the gradient is given (and answered) as a row,
the transpose of its node. Once this failed in `derive solve` itself (dL/dy@ had no value)."""
from pathlib import Path

import numpy as np
import pytest

import derive
from derive.expr.numeric import evaluate
from derive.verify.instances import adjoint_values, forward, instance

PROBLEM = str(Path(__file__).parent.parent / "data" / "numerator-given.toml")


def test_it_solves_and_verifies():
    sol = derive.solve(PROBLEM)
    assert sol.verified, [(c.name, c.max_rel_error) for c in sol.checks]
    assert {r.quantity.name: r.shape for r in sol.derivation.results}["dL/db"][0] == 1   # a row


@pytest.mark.parametrize("quantity, answer, verdict", [
    ("dL/db", "sigma'(z)^T ⊙ dL/dy", "correct"),
    ("dL/dW", "x (sigma'(z)^T ⊙ dL/dy)", "correct"),
    ("dL/dW", "(sigma'(z) ⊙ dL/dy^T) x^T", "incorrect"),     # the shape layout's answer, transposed
    ("dL/dx", "(sigma'(z)^T ⊙ dL/dy) W", "correct"),
])
def test_answers_in_numerator_layout(quantity, answer, verdict):
    assert derive.check(PROBLEM, quantity, answer).verdict == verdict


def test_against_torch_autograd():
    torch = pytest.importorskip("torch")
    sol = derive.solve(PROBLEM)
    inst = instance(sol.problem, 5)
    env = forward(sol.problem, inst)
    full = adjoint_values(sol.derivation, inst, env)
    t = {k: torch.tensor(np.asarray(env[k], dtype=float), requires_grad=k in ("W", "x", "b")) for k in ("W", "x", "b")}
    G = torch.tensor(np.asarray(env["dL/dy"], dtype=float))          # 1 x m, as the problem gives it
    y = torch.sigmoid(t["W"] @ t["x"] + t["b"])
    (G.T * y).sum().backward()
    for name in ("W", "x", "b"):
        got = evaluate(sol.derivation.result(f"dL/d{name}").closed, full, inst.dims, inst.functions)
        assert np.allclose(got, t[name].grad.numpy().T, rtol=1e-9, atol=1e-12), name   # numerator layout
