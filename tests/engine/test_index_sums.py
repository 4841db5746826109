"""Index forms with a bound index: sum(expr, k) and \\sum_{k=1}^{N} (issue: the seeds' notation)."""
import pytest

from derive import check


@pytest.mark.parametrize("problem, quantity, answer, verdict", [
    ("problem4", "dL/dh_i", "P_i*sum(y_k, k) - y_i", "correct"),
    ("problem4", "dL/dh_i", r"P_i \sum_{k=1}^{N} y_k - y_i", "correct"),
    ("problem4", "dL/dh_i", "exp(h_i)/sum(exp(h_k), k) - y_i", "correct"),
    ("problem4", "dL/dh_i", "sum(-y_k*(delta_ik - P_i), k)", "correct"),       # the chain rule, unsimplified
    ("problem4", "dL/dh_i", "exp(h_i)/sum(exp(h_k), k) + y_i", "incorrect"),
    ("softmax-definition", "softmax_i", "exp(z_i)/sum(exp(z_k), k)", "correct"),
    ("softmax-definition", "softmax_i", r"\frac{e^{z_i}}{\sum_{k=1}^{K} e^{z_k}}", "correct"),
    ("softmax-definition", "softmax_i", r"\frac{e^{z_i - \max(z)}}{\sum_k e^{z_k - \max(z)}}", "correct"),
    ("softmax-definition", "softmax_i", r"\frac{e^{z_i}}{\sum_k e^{z_i}}", "incorrect"),
])
def test_sums_over_a_bound_index(problem, quantity, answer, verdict):
    r = check(problem, quantity, answer)
    assert r.verdict == verdict, r.feedback


@pytest.mark.parametrize("answer, words", [
    ("sum(y_i, i)", "also the free index"),
    (r"\sum y_k", r"write the summation index"),
    (r"P_i \sum_k", "needs a summand"),
])
def test_malformed_sums_say_why(answer, words):
    r = check("problem4", "dL/dh_i", answer)
    assert r.verdict == "invalid" and words in r.feedback[0]
