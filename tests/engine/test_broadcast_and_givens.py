"""Issue 26, item 1: a scalar constant broadcasts in any matrix expression (never an identity
matrix), a one-hot label matrix has one 1 per row, several given gradients add up over every
path, and a forward line that only renames a node derives. Expectations come from torch autograd."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from derive import solve
from derive.errors import ProblemSpecError
from derive.expr.numeric import evaluate, rel_error
from derive.problem.load import load_file
from derive.render import graph
from derive.verify.instances import adjoint_values, forward, instance

DATA = "tests/data/textbook26"


def _at(sol, seed):
    p = sol.problem
    inst = instance(p, seed)
    env = forward(p, inst)
    return inst, env, adjoint_values(sol.derivation, inst, env)


def _t(a):
    return torch.tensor(np.asarray(a, dtype=float), dtype=torch.float64, requires_grad=True)


def _grad(sol, name, inst, full):
    return np.asarray(evaluate(sol.derivation.result(name).closed, full, inst.dims), dtype=float)


def test_label_smoothing_against_autograd_with_one_label_per_row():
    sol = solve(f"{DATA}/label-smoothing.toml")
    inst, env, full = _at(sol, 3)
    Y = env["Y"]
    assert Y.shape[0] > 1 and (Y.sum(axis=1) == 1).all() and set(np.unique(Y)) == {0.0, 1.0}
    X, W = _t(env["X"]), _t(env["W"])
    Z = X @ W
    C = Y.shape[1]
    eps = float(env["eps"][0, 0])
    loss = torch.nn.functional.cross_entropy(Z, torch.tensor(Y.argmax(axis=1)), label_smoothing=eps * C / C)
    Z.retain_grad()
    loss.backward()
    assert rel_error(_grad(sol, "dL/dZ", inst, full), Z.grad.numpy()) < 1e-9
    assert rel_error(_grad(sol, "dL/dW", inst, full), W.grad.numpy()) < 1e-9


def test_a_scalar_constant_is_the_number_one_in_every_printer_and_the_graph():
    sol = solve(f"{DATA}/label-smoothing.toml")
    eq = sol.problem.equations[0]
    from derive.notation.latex import latex
    from derive.notation.text import text
    assert "I" not in text(eq.expr) and r"\mathbb{I}" not in latex(eq.expr)
    assert "(1 - eps)*Y" in text(eq.expr) and r"\left(1 - \epsilon\right) Y" in latex(eq.expr)
    g = graph.build(sol.problem)                 # "the graph has no node for Identity" before
    assert [n.kind for n in g.nodes].count("constant") >= 1


def test_lstm_with_two_given_gradients_keeps_the_path_through_h_against_autograd():
    sol = solve(f"{DATA}/lstm-step.toml")
    assert all(c.verified for c in sol.checks)
    inst, env, full = _at(sol, 5)
    v = {k: _t(env[k]) for k in ("x", "h_prev", "c_prev", "Wi", "Wf", "Wo", "Wg", "Ui", "Uf", "Uo", "Ug",
                                 "bi", "bf", "bo", "bg")}
    i = torch.sigmoid(v["Wi"] @ v["x"] + v["Ui"] @ v["h_prev"] + v["bi"])
    f = torch.sigmoid(v["Wf"] @ v["x"] + v["Uf"] @ v["h_prev"] + v["bf"])
    o = torch.sigmoid(v["Wo"] @ v["x"] + v["Uo"] @ v["h_prev"] + v["bo"])
    g = torch.tanh(v["Wg"] @ v["x"] + v["Ug"] @ v["h_prev"] + v["bg"])
    c = f * v["c_prev"] + i * g
    h = o * torch.tanh(c)
    (torch.tensor(env["dL/dh_t"]) * h).sum().add((torch.tensor(env["dL/dc_t"]) * c).sum()).backward()
    for name, t in (("dL/dc_prev", "c_prev"), ("dL/dh_prev", "h_prev"), ("dL/dWf", "Wf"), ("dL/dbo", "bo")):
        assert rel_error(_grad(sol, name, inst, full), v[t].grad.numpy()) < 1e-9, name


def test_a_forward_line_that_renames_a_node_derives_against_autograd(tmp_path):
    f = tmp_path / "xax.toml"
    f.write_text('id = "xax"\ntitle = "a quadratic form"\ndims = ["n"]\n'
                 'forward = ["f1 = x^T A x", "f = f1"]\nquantities = ["df/dx", "df/dA"]\n'
                 '[symbols]\nx = ["n", 1]\nA = ["n", "n"]\n')
    sol = solve(str(f))
    assert all(c.verified for c in sol.checks)
    inst, env, full = _at(sol, 2)
    x, A = _t(env["x"]), _t(env["A"])
    (x.T @ A @ x).sum().backward()
    assert rel_error(_grad(sol, "df/dx", inst, full), x.grad.numpy()) < 1e-10
    assert rel_error(_grad(sol, "df/dA", inst, full), A.grad.numpy()) < 1e-10


def test_a_given_gradient_of_a_named_node_or_a_computed_output_is_refused_with_what_to_write(tmp_path):
    base = open("problems/two-hidden-deltas.toml").read().replace('id = "two-hidden-deltas"', 'id = "thd-given"') \
        .replace('alias = "problem6"', 'alias = "thd-given"')
    for given, says in (('"drho/dZ2" = "Z2"', "output rho is computed by the forward equations"),
                        ('delta3 = "Z2"', "name it in \\[names\\]")):
        f = tmp_path / "thd.toml"
        f.write_text(base + f"\n[given]\n{given}\n")
        with pytest.raises(ProblemSpecError, match=says):
            load_file(f)
