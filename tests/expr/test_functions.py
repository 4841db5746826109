"""Functions students write: hyperbolics and their inverses, floor/ceil/sign, min/max, log with a
base, \\operatorname and \\mathrm names, the ones-vector, ∂ℓ/∂ŷ with a slash (issue 10).

Expectations are identities of mathematics (σ'(h) = sech²(h/2)/4, tanh' = sech², 1ᵀX sums
the rows of X), not outputs of the code under test."""
import numpy as np
import pytest
import sympy as sp

from derive import check
from derive.expr import functions as sy
from derive.expr.numeric import evaluate
from derive.notation import build as reader
from derive.problem.load import load

# problem3: y = σ(h), h = 2x + 1; dy/dh = σ(h)(1 - σ(h))
SIGMOID_SLOPE = [
    "sech(h/2)^2/4",
    r"\frac{1}{4}\operatorname{sech}^2(h/2)",
    r"\frac{1}{4 \cosh^2(h/2)}",
    "1/(2 + 2 cosh(h))",
    r"\frac{1}{4}\left(1 - \tanh^2(h/2)\right)",
    "(1 - tanh(h/2)^2)/4",
    r"\frac{1}{4}(\coth^2(h/2) - 1) \tanh^2(h/2) \cdot \frac{1}{\sinh^2(h/2) \operatorname{csch}^2(h/2)}",
    "exp(-h)/(1 + 2^(-h log_2(e)))^2",
    r"\frac{e^{-h}}{(1 + e^{-h \log_{10}(10)})^2}",
    "exp(-h)/(1+exp(-h))^2 * (1 + floor(1/2) + ceil(-1/2))",
    "sign(2) exp(-h)/(1+exp(-h))^2",
    r"\operatorname{sgn}(h)^2 \frac{e^{-h}}{(1+e^{-h})^2}",       # sign(h)^2 = 1 off h = 0
    "max(h, h - 1, h - 2) exp(-h)/(h (1+exp(-h))^2)",
    "min(h, h + 1) exp(-h)/(h (1+exp(-h))^2)",
    r"\frac{\cosh(\operatorname{arsinh}(h))^2 - h^2}{4 \cosh^2(h/2)}",   # cosh(asinh h)^2 = 1 + h^2
    r"\frac{1}{4}\left(1 - \tanh^2(\operatorname{artanh}(\tanh(h/2)))\right)",
]


@pytest.mark.parametrize("answer", SIGMOID_SLOPE)
def test_functions_in_correct_answers(answer):
    r = check("problem3", "dy/dh", answer)
    assert r.verdict == "correct", (answer, r.feedback)


@pytest.mark.parametrize("answer, code", [
    ("sech(h)^2/4", None),                       # the argument is h/2
    ("cosh(h/2)^2/4", None),
    ("-sech(h/2)^2/4", "sign"),
    ("sech(h/2)^2/2", "constant_factor"),
    ("exp(-h)/(1 + exp(-h))^2 * log_2(e)", "constant_factor"),
])
def test_functions_in_wrong_answers(answer, code):
    r = check("problem3", "dy/dh", answer)
    assert r.verdict == "incorrect", r.feedback
    if code:
        assert code in r.diagnosis


def test_tanh_derivative_as_sech_squared():
    # tanh-softmax-net: a1 = tanh(z1), so dL/dz1 = dL/da1 ⊙ tanh'(z1) = dL/da1 ⊙ sech²(z1)
    for answer in ("dL/da1 ⊙ sech(z1)^2", r"\frac{\partial L}{\partial a_1} \odot \operatorname{sech}^2(z_1)",
                   r"\frac{\partial L}{\partial a_1} \odot \frac{1}{\cosh^2(z_1)}"):
        assert check("tanh-softmax-net", "dL/dz1", answer).verdict == "correct", answer
    r = check("tanh-softmax-net", "dL/dz1", "dL/da1 ⊙ cosh(z1)^2")
    assert r.verdict == "incorrect"


@pytest.mark.parametrize("name, value", [
    ("cosh", np.cosh), ("sinh", np.sinh), ("sech", lambda x: 1 / np.cosh(x)), ("csch", lambda x: 1 / np.sinh(x)),
    ("coth", lambda x: 1 / np.tanh(x)), ("asinh", np.arcsinh), ("atanh", np.arctanh),
    ("floor", np.floor), ("ceil", np.ceil), ("sign", np.sign),
])
def test_each_function_evaluates_and_differentiates_like_numpy(name, value):
    """The table entry's value and its derivative (from its body) against numpy and a central difference."""
    x = np.array([[0.3, -0.45, 0.7]])
    body = sy.activation_derivative(name, 0)
    slope = sy.activation_derivative(name, 1)
    got = evaluate(body, {"__x": x}, {})
    assert np.allclose(got, value(x))
    h = 1e-6
    fd = (value(x + h) - value(x - h)) / (2 * h)
    assert np.allclose(evaluate(slope, {"__x": x}, {}) * np.ones_like(x), fd, rtol=1e-5, atol=1e-6)


def test_function_names_read_in_latex_and_text():
    p = load("problem3")
    h = p.scope.symbols["h"]
    for text, want in [(r"\cosh h", sp.cosh(h)), (r"\operatorname{sech}(h)", 1 / sp.cosh(h)),
                       (r"\mathrm{arcsinh}(h)", sp.asinh(h)), (r"\lfloor h \rfloor", sp.floor(h)),
                       (r"\lceil h \rceil", sp.ceiling(h)), (r"\log_2 h", sp.log(h, 2)), ("log10(h)", sp.log(h, 10)),
                       (r"\max(h, 1, -h)", sp.Max(h, 1, -h)), ("min(h, 2)", sp.Min(h, 2))]:
        got = reader.read(text, p.scope)
        for v in (0.37, 1.61, 2.2):
            env = {"h": v}
            assert float(evaluate(got, env, {})) == pytest.approx(float(want.subs(h, v))), text


def test_log_base_must_be_a_number_other_than_one():
    r = check("problem3", "dy/dh", "log_1(h)")
    assert r.verdict == "invalid" and "base" in r.feedback[0]


# ---- the ones-vector and slashed derivatives --------------------------------------------------
@pytest.mark.parametrize("answer", [
    r"\mathbf{1}_N^\top \frac{\partial L}{\partial y}",
    r"\mathbf{1}^\top \frac{\partial L}{\partial y}",
    r"\mathbb{1}_{N}^{T} \frac{\partial L}{\partial y}",
    "1_N^T dL/dy",
    "sum(dL/dy, 0)",
])
def test_ones_vector_sums_the_batch(answer):
    assert check("problem5", "dL/dbeta", answer).verdict == "correct", answer


def test_ones_vector_on_the_wrong_side_is_a_shape_error():
    r = check("problem5", "dL/dbeta", r"\frac{\partial L}{\partial y} \mathbf{1}_H")
    assert r.verdict == "incorrect" and r.diagnosis == ("shape",)


def test_ones_vector_with_an_unknown_size_says_so():
    r = check("problem5", "dL/dbeta", r"\mathbf{1}_Q^\top \frac{\partial L}{\partial y}")
    assert r.verdict == "invalid" and "not a dimension" in r.feedback[0]


def test_partial_with_a_slash_and_a_hat():
    # two-layer-regression: l = ||yhat - y||^2 (row layout), dl/dyhat given its own name
    r = check("problem8", "dl/dz3", r"\partial \ell / \partial \hat{y}")
    assert r.verdict == "correct", r.feedback


def test_the_engine_derives_through_the_new_functions(tmp_path):
    """A problem file may use them too: derived by sympy.diff of the body, verified by finite differences."""
    from derive import solve
    f = tmp_path / "hyper.toml"
    f.write_text('''id = "hyper-chain"
title = "hyperbolic chain"
forward = ["u = cosh(w*x)", "v = asinh(u) + sech(x)", "L = coth(v + 1) * sinh(w)"]
output = "L"
quantities = ["dL/dw", "dL/dx"]

[symbols]
x = "scalar"
w = "scalar"
''', encoding="utf-8")
    sol = solve(str(f))
    assert all(c.verified for c in sol.checks) and len(sol.checks) == 2
    import math
    w, x = 0.7, -0.4

    def L(w, x):
        u = math.cosh(w * x)
        return math.sinh(w) / math.tanh(math.asinh(u) + 1 / math.cosh(x) + 1)

    def answer(w, x):                                  # the formula below, by hand
        u = math.cosh(w * x)
        v = math.asinh(u) + 1 / math.cosh(x)
        return (math.cosh(w) / math.tanh(v + 1)
                - math.sinh(w) / math.sinh(v + 1) ** 2 * math.sinh(w * x) * x / math.sqrt(u * u + 1))
    h = 1e-6                                           # the formula is right: central differences agree
    assert answer(w, x) == pytest.approx((L(w + h, x) - L(w - h, x)) / (2 * h), rel=1e-6)
    r = check(str(f), "dL/dw", "coth(v + 1) cosh(w) - sinh(w) csch(v + 1)^2 sinh(w x) x / sqrt(u^2 + 1)")
    assert r.verdict == "correct", r.feedback
    r = check(str(f), "dL/dw", "coth(v + 1) cosh(w) + sinh(w) csch(v + 1)^2 sinh(w x) x / sqrt(u^2 + 1)")
    assert r.verdict == "incorrect" and r.diagnosis == ("sign",), r.feedback
