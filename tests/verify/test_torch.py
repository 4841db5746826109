"""Cross-check with PyTorch autograd where torch is installed (CI installs the CPU build)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from derive.expr.numeric import evaluate
from derive.verify.instances import adjoint_values, forward, instance
from derive.verify.proof import rel_error


def _engine(sol, seed):
    p = sol.problem
    inst = instance(p, seed)
    env = forward(p, inst)
    return inst, env, adjoint_values(sol.derivation, inst, env)


def _t(a):
    return torch.tensor(np.asarray(a, dtype=float), dtype=torch.float64, requires_grad=True)


def test_two_hidden_deltas_against_autograd(solved):
    sol = solved("problem6")
    inst, env, full = _engine(sol, 11)
    params = {k: _t(env[k]) for k in ("W1", "b1", "W2", "b2", "W3", "b3")}
    x, y = torch.tensor(env["x"]), torch.tensor(env["y"])
    h1 = torch.sigmoid(params["W1"] @ x + params["b1"])
    h2 = torch.sigmoid(params["W2"] @ h1 + params["b2"])
    f = params["W3"] @ h2 + params["b3"]
    ((y - f) ** 2).sum().backward()
    for k, t in params.items():
        got = evaluate(sol.derivation.result(f"drho/d{k}").closed, full, inst.dims)
        assert rel_error(got, t.grad.numpy()) < 1e-10, k


def test_batchnorm_against_autograd(solved):
    sol = solved("problem5")
    inst, env, full = _engine(sol, 12)
    h = _t(env["h"])
    gamma, beta = _t(env["gamma"]), _t(env["beta"])
    eps = float(env["eps"][0, 0])
    mu = h.mean(0, keepdim=True)
    var = ((h - mu) ** 2).mean(0, keepdim=True)
    y = gamma * (h - mu) / torch.sqrt(var + eps) + beta
    (y * torch.tensor(env["dL/dy"])).sum().backward()
    for name, t in (("dL/dh", h), ("dL/dgamma", gamma), ("dL/dbeta", beta)):
        got = evaluate(sol.derivation.result(name).closed, full, inst.dims)
        assert rel_error(got, t.grad.numpy()) < 1e-10, name


def test_softmax_cross_entropy_against_autograd(solved):
    sol = solved("problem4")
    inst, env, full = _engine(sol, 13)
    h = _t(env["h"])
    loss = -(torch.tensor(env["y"]) * torch.log_softmax(h, dim=0)).sum()
    loss.backward()
    got = evaluate(sol.derivation.result("dL/dh_i").closed, full, inst.dims)
    assert rel_error(got, h.grad.numpy()) < 1e-10
    jac = torch.autograd.functional.jacobian(lambda v: torch.softmax(v, dim=0), torch.tensor(env["h"]))
    got = evaluate(sol.derivation.result("dP_j/dh_i").closed, full, inst.dims)
    assert rel_error(got, jac.reshape(got.shape).numpy()) < 1e-10


def test_residual_relu_against_autograd(solved):
    sol = solved("problem2")
    values = {c.name: c.value for c in sol.checks}
    v = {k: _t(x) for k, x in sol.problem.values.items()}
    x1 = torch.relu(v["x0"] * v["w0"] + v["b0"])
    z = torch.relu(x1 * v["w1"] + v["b1"] + v["x0"])
    z.backward()
    for k in ("w0", "w1", "b0", "b1", "x0"):
        assert values[f"dz/d{k}"] == pytest.approx(float(v[k].grad), abs=1e-12)


def test_tanh_softmax_net_at_the_real_width_against_autograd(solved):
    sol = solved("tanh-softmax-net")
    inst, env, full = _engine(sol, 14)
    assert env["W1"].shape == (2, 500)
    params = {k: _t(env[k]) for k in ("W1", "b1", "W2", "b2")}
    x, y = torch.tensor(env["x"]), torch.tensor(env["y"])
    a1 = torch.tanh(x @ params["W1"] + params["b1"])
    loss = -(y * torch.log_softmax(a1 @ params["W2"] + params["b2"], dim=1)).sum()
    loss.backward()
    for k, t in params.items():
        got = evaluate(sol.derivation.result(f"dL/d{k}").closed, full, inst.dims)
        assert rel_error(got, t.grad.numpy()) < 1e-10, k


@pytest.mark.parametrize("pid, f, g", [("two-layer-regression", torch.relu, lambda v: v),
                                       ("two-layer-classification", torch.sigmoid, torch.sigmoid),
                                       ("two-layer-classification-relu", torch.relu, torch.sigmoid)])
def test_two_layer_nets_in_numerator_layout_against_autograd(solved, pid, f, g):
    sol = solved(pid)
    inst, env, full = _engine(sol, 15)
    params = {k: _t(env[k]) for k in ("W1", "b1", "W2", "b2")}
    x, y = torch.tensor(env["x"]), torch.tensor(env["y"])
    yhat = g(params["W2"] @ f(params["W1"] @ x + params["b1"]) + params["b2"])
    ((yhat - y) ** 2).sum().backward()
    for k, t in params.items():
        got = evaluate(sol.derivation.result(f"dl/d{k}").closed, full, inst.dims)
        assert np.shape(got) == t.grad.numpy().T.shape, k      # numerator layout: the transpose
        assert rel_error(got, t.grad.numpy().T) < 1e-10, k
