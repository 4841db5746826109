"""The engine against known results (seeds, corrected) and finite differences."""
import numpy as np
import pytest
import sympy as sp

import derive
from derive.expr import functions as sy
from derive.expr.numeric import evaluate
from derive.verify.instances import adjoint_values, forward, instance
from derive.verify.proof import rel_error

CORE = ["problem1", "problem2", "problem3", "problem4", "problem5", "problem6"]


@pytest.mark.parametrize("name", CORE)
def test_every_quantity_verified(solved, name):
    sol = solved(name)
    assert sol.checks, "no quantity was checked"
    for c in sol.checks:
        assert c.verified, f"{name} {c.name}: relative error {c.max_rel_error}"
        assert c.max_rel_error < 1e-5


def test_residual_relu_values_correct_the_printed_ones(solved):
    sol = solved("problem2")
    values = {c.name: c.value for c in sol.checks}
    expected = {"u0": 0.3, "y0": 0.4, "x1": 0.4, "u1": -0.08, "y1": -0.38, "v1": 0.62, "z": 0.62,
                "dz/dw0": -0.2, "dz/dw1": 0.4, "dz/db0": -0.2, "dz/db1": 1.0, "dz/dx0": 0.94}
    for name, v in expected.items():
        assert values[name] == pytest.approx(v, abs=1e-12), name
    assert values["z"] != 0 and values["u1"] != -0.8        # the seed's slips


def test_scalar_chain_matches_the_seed_form(solved):
    sol = solved("problem1")
    s = sol.problem.scope.symbols
    x, w1, w3, b1 = s["x"], s["w1"], s["w3"], s["b1"]
    u3 = s["w3"] * s["h1"] + s["w4"] * s["h2"] + s["b3"]
    f = lambda name, arg: sy.Fn(sp.Symbol(name), 1, arg)
    seed = s["dL/dh3"] * f("f3", u3) * w3 * f("f1", w1 * x + b1) * x
    assert sp.expand(sol.derivation.result("dL/dw1").closed - seed) == 0
    # dL/dx sums the two paths, through h1 and through h2
    dx = sol.derivation.result("dL/dx").closed
    assert len(sp.Add.make_args(sp.expand(dx))) == 2
    assert "2 paths" in next(st.rule for st in sol.derivation.steps if st.node == "x")


def test_no_path_gives_zero(solved):
    sol = solved("problem3")
    assert sol.derivation.result("dy/dz").closed == 0
    h = sol.problem.scope.symbols["h"]
    expected = sp.exp(-h) / (1 + sp.exp(-h)) ** 2
    assert sp.simplify(sol.derivation.result("dy/dh").closed - expected) == 0
    assert sp.simplify(sol.derivation.result("dy/dx").closed - 2 * expected) == 0


def test_two_hidden_deltas_in_terms_of_deltas(solved):
    sol = solved("problem6")
    s = sol.problem.scope.symbols
    r = sol.derivation.result("drho/dW1")
    assert r.expr == s["delta2"] * s["x"].T
    d, dH = sol.problem.scope.dims["d"], sol.problem.scope.dims["d_H"]
    assert r.shape == (dH, d)
    assert sol.derivation.result("drho/dW3").expr == s["delta4"] * s["H2"].T
    assert sol.derivation.result("drho/db2").expr == s["delta3"]
    # delta3 is written with delta4, as the seed asks: (W3^T delta4) ⊙ sigma'(Z2)
    delta3 = sol.derivation.result("delta3").expr
    assert s["delta4"] in delta3.atoms(sp.MatrixSymbol) and s["W3"] in delta3.atoms(sp.MatrixSymbol)
    assert sol.derivation.result("delta4").shape == (1, 1)


def test_softmax_cross_entropy_is_p_minus_y(solved):
    sol = solved("problem4")
    s = sol.problem.scope.symbols
    r = sol.derivation.result("dL/dh_i")
    assert r.closed == s["P"] - s["y"]
    i = sp.Symbol("i", integer=True)
    assert r.index_form == s["P"][i, 0] - s["y"][i, 0]
    j = sp.Symbol("j", integer=True)
    jac = sol.derivation.result("dP_j/dh_i").index_form
    assert sp.expand(jac.subs(j, i)) == sp.expand(s["P"][i, 0] * (1 - s["P"][i, 0]))   # case i = j
    assert jac.subs(j, i + 1) == -s["P"][i, 0] * s["P"][i + 1, 0]                      # case i != j


def batchnorm_backward_reference(dy, h, gamma, eps):
    """The textbook BatchNorm backward (e.g. cs231n), an oracle independent of the engine."""
    n = h.shape[0]
    mu = h.mean(0)
    var = h.var(0)
    hhat = (h - mu) / np.sqrt(var + eps)
    dhhat = dy * gamma
    return (n * dhhat - dhhat.sum(0) - hhat * (dhhat * hhat).sum(0)) / (n * np.sqrt(var + eps))


def test_batchnorm_full_backward_against_the_textbook_formula(solved):
    sol = solved("problem5")
    p = sol.problem
    for seed in (3, 4):
        inst = instance(p, seed)
        env = forward(p, inst)
        full = adjoint_values(sol.derivation, inst, env)
        got = evaluate(sol.derivation.result("dL/dh").closed, full, inst.dims)
        want = batchnorm_backward_reference(env["dL/dy"], env["h"], env["gamma"], env["eps"][0, 0])
        assert rel_error(got, want) < 1e-10
        # the printed solution, gamma * dL/dy / sqrt(var + eps) - ..., lacks the batch terms and is wrong
        var = env["h"].var(0)
        printed = env["dL/dy"] * env["gamma"] * ((var + env["eps"][0, 0]) ** -0.5
                                                 - (env["h"] - env["h"].mean(0)) ** 2 / len(env["h"])
                                                 * (var + env["eps"][0, 0]) ** -1.5)
        assert rel_error(printed, want) > 0.1


def test_dimensions_stay_symbolic_and_width_costs_nothing():
    from mlp import mlp_file

    from derive.engine.backprop import derive as run
    from derive.problem.load import load_file
    sizes = []
    for width in (5, 500):
        d = run(load_file(mlp_file(3, width)))
        sizes.append(sp.count_ops(d.result("dL/dW1").closed))
    assert sizes[0] == sizes[1]


def test_jupyter_shows_latex(solved):
    sol = solved("problem6")
    assert sol._repr_latex_().startswith("$") and r"\delta^{2}" in sol._repr_latex_()   # the statement's delta^2
    assert "aligned" in derive.load("problem1")._repr_latex_()
