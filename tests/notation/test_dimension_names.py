"""A dimension is read by its name or typed without its underscores (dk for the statement's d_k)."""
import derive

ANSWER = "(A ⊙ (dL/dO V^T - sum(dL/dO V^T ⊙ A, 1))) K/sqrt({})"


def test_a_dimension_typed_without_its_underscore_is_that_dimension():
    for spelled in ("d_k", "dk"):
        assert derive.check("causal-attention", "dL/dQ", ANSWER.format(spelled)).verdict == "correct"


def test_another_dimension_is_not_taken_for_it():
    assert derive.check("causal-attention", "dL/dQ", ANSWER.format("dv")).verdict == "incorrect"
