"""Circular answers earn nothing: an answer may build only on quantities that come before it in the
problem's order (the forward pass for values, the backward pass for gradients).

The oracle is the maths of each problem, written out by hand: the honest derivation of seed 003
(delta4 = -2(y - f), each parameter gradient from the delta before it) earns every point, and each
circular pair below is right against the truth only because it names the answer it is asked for.
"""
import pytest

from derive import Checker
from derive.grading.steps import check_answer, check_submission

CIRCULAR_6 = {                       # the attack of issue 20, 20/20 on main
    "delta4": "drho/db3", "drho/db3": "delta4",
    "delta3": "drho/db2", "drho/db2": "delta3",
    "delta2": "drho/db1", "drho/db1": "delta2",
    "drho/dW3": "delta4 H2^T", "drho/dW2": "delta3 H1^T", "drho/dW1": "delta2 x^T",
}
HONEST_6 = {
    "delta4": "-2 (y - f)", "drho/dW3": "delta4 H2^T", "drho/db3": "delta4",
    "delta3": "sigma(Z2) ⊙ (1 - sigma(Z2)) ⊙ (W3^T delta4)", "drho/dW2": "delta3 H1^T", "drho/db2": "delta3",
    "delta2": "sigma(Z1) ⊙ (1 - sigma(Z1)) ⊙ (W2^T delta3)", "drho/dW1": "delta2 x^T", "drho/db1": "delta2",
}


@pytest.fixture(scope="module")
def checker():
    with Checker(workers=2) as c:
        yield c


def test_the_honest_derivation_of_seed_003_keeps_every_point(checker):
    res = check_submission("problem6", HONEST_6, checker=checker)
    assert (res.score, res.max_score) == (20, 20), [(s.quantity, s.feedback) for s in res.steps]


def test_a_circular_derivation_does_not_score_20_of_20(checker):
    res = check_submission("problem6", CIRCULAR_6, checker=checker)
    by = {s.quantity: s for s in res.steps}
    for name in ("delta4", "delta3", "delta2"):        # each names a later gradient
        assert by[name].verdict == "invalid" and by[name].score == 0
        assert "not_allowed" in by[name].diagnosis
    assert "drho/db3 is not allowed yet in delta4" in by["delta4"].feedback[0]
    assert "backward pass" in by["delta4"].feedback[0]
    assert res.score <= 20 - (3 + 4 + 4)


@pytest.mark.parametrize("problem, name, answer, later", [
    ("problem2", "u0", "y0 - b0", "y0"),                                # y0 = u0 + b0 comes after u0
    ("problem11", "params_1", "params_total - params_2 - params_3", "params_total"),
    ("problem6", "drho/dH2", "drho/dW3", "drho/dW3"),                   # a step the problem does not ask
])
def test_a_later_quantity_is_not_allowed_and_the_feedback_names_it(checker, problem, name, answer, later):
    res = check_answer(checker, problem, name, answer)
    assert res.verdict == "invalid" and res.score == 0
    assert any(f.startswith(f"{later} is not allowed yet in {name}") for f in res.feedback), res.feedback


@pytest.mark.parametrize("problem, name, answer", [
    ("problem2", "y0", "u0 + b0"),                     # the forward pass: u0 comes first
    ("problem11", "params_total", "params_1 + params_2 + params_3"),
    ("problem6", "drho/db3", "delta4"),                # the backward pass: delta4 comes first
])
def test_an_earlier_quantity_may_be_used(checker, problem, name, answer):
    assert check_answer(checker, problem, name, answer).verdict == "correct"


def test_an_answer_in_terms_of_itself_says_so(checker):
    res = check_answer(checker, "problem11", "params_total", "params_total")
    assert res.verdict == "invalid" and "itself" in res.feedback[0]


def test_numbers_defined_by_each_other_earn_nothing(checker):
    res = check_submission("problem2", {"u0": "y0 - b0", "y0": "u0 + b0"}, checker=checker)
    by = {s.quantity: s for s in res.steps}
    assert by["u0"].verdict == "invalid" and by["y0"].verdict == "correct"
