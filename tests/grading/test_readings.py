"""Ambiguous juxtapositions read by meaning (issue 10): seed 000 writes f'_3 for f3' at its node,
so f'_3 (…) may be a product, and a bare f1 is f1 at its node (h1). Every reading is graded; the
other reading is accepted only when it alone matches, and the feedback says how it was read."""
import pytest

from derive import check
from derive.notation import readings as alternatives

BOTH_PATHS_LATEX = r"\frac{\partial L}{\partial h_3} f'_3(w_3 f'_1 w_1 + w_4 f'_2 w_2)"


@pytest.mark.parametrize("answer", [
    BOTH_PATHS_LATEX,                                           # the seed's notation, no space
    r"\frac{\partial L}{\partial h_3} f'_3 (w_3 f'_1 w_1 + w_4 f'_2 w_2)",
    "dL/dh3 f3'(w3 f1' w1 + w4 f2' w2)",
    "dL/dh3 f3' (w3 f1' w1 + w4 f2' w2)",
])
def test_seed_derivative_before_a_bracket_of_paths_is_a_product(answer):
    r = check("problem1", "dL/dx", answer)
    assert r.verdict == "correct", r.feedback


def test_the_feedback_says_how_it_was_read():
    r = check("problem1", "dL/dx", BOTH_PATHS_LATEX)
    assert r.feedback[0].startswith("correct")
    assert "Read f'_3(…) as a product: f'_3 at its node times the bracket" in r.feedback


def test_a_real_argument_stays_a_call():
    # f3' applied to its own node input is the call; nothing to reread, no note
    r = check("problem1", "dL/dw4", "dL/dh3 f3'(w3 h1 + w4 h2 + b3) h2")
    assert r.verdict == "correct" and len(r.feedback) == 1


@pytest.mark.parametrize("answer, quantity", [
    ("dL/dh3 f3' f1", "dL/dw3"),                  # bare f1: f1 at its node, which is h1
    ("dL/dh3 f3' f2", "dL/dw4"),
    (r"\frac{\partial L}{\partial h_3} f'_3 f_1", "dL/dw3"),
])
def test_bare_function_is_its_node(answer, quantity):
    r = check("problem1", quantity, answer)
    assert r.verdict == "correct", r.feedback
    assert any(line.startswith("Read f") and "at its node" in line for line in r.feedback)


def test_bare_activation_at_its_only_node():
    # tanh-softmax-net applies tanh at one node (z1): 1 - tanh^2 is 1 - tanh(z1)^2
    r = check("tanh-softmax-net", "dL/dz1", "dL/da1 ⊙ (1 - tanh^2)")
    assert r.verdict == "correct", r.feedback


@pytest.mark.parametrize("answer, code", [
    ("dL/dh3 f3'(w3 f1' w1 - w4 f2' w2)", "sign"),              # no reading matches: the natural one is diagnosed
    ("dL/dh3 f3'(w3 f1' w1)", "missing_term"),
    ("dL/dh3 f3' (w3 f1 w1 + w4 f2' w2)", "derivative"),         # f1 (the node's value) where f1' belongs
])
def test_wrong_in_every_reading_is_diagnosed(answer, code):
    r = check("problem1", "dL/dx", answer)
    assert r.verdict == "incorrect" and r.diagnosis == (code,), r.feedback


def test_no_second_reading_outside_node_notation():
    """f1(a) with no bare f' anywhere is the call: a person writing f1(w1 x + b1) means it."""
    names, funcs = {}, frozenset({"f1", "f2", "f3"})
    nodes = frozenset({"f1", "f2", "f3"})
    assert len(alternatives.readings("f1(w1 x + b1) w3", names=names, functions=funcs, nodes=nodes)) == 1
    assert len(alternatives.readings("f3'(w3 f1' w1)", names=names, functions=funcs, nodes=nodes)) == 2
    # a function with no single node (nodes empty) never gets a second reading
    assert len(alternatives.readings("f3'(w3 f1' w1)", names=names, functions=funcs, nodes=frozenset())) == 1


def test_readings_are_bounded():
    funcs = nodes = frozenset({"f1", "f2", "f3"})
    text = " ".join(["f3'(f1' f2')"] * 8)
    assert len(alternatives.readings(text, functions=funcs, nodes=nodes)) <= 2 ** alternatives.MAX_CHOICES


def test_a_bare_function_with_several_nodes_is_still_a_function_error():
    # two-hidden-deltas applies sigma at two nodes: a bare sigma means neither
    r = check("two-hidden-deltas", "delta3", "sigma ⊙ (W3^T delta4)")
    assert r.verdict == "invalid" and "is a function" in r.feedback[0]
