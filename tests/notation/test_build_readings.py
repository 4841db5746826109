"""Readings that need the problem's scope: split letters, the identity I_K, * where only the entrywise
product conforms, numpy's broadcasting *, Matlab's 1-based sum dims, ⊙ beside a juxtaposition."""
import pytest
import sympy as sp

from derive.errors import AnswerError
from derive.grading.read import AnswerBuilder
from derive.notation import build as B
from derive.notation import readings as R
from derive.problem.load import load


def built(problem, text, fmt="auto"):
    p = load(problem)
    b = AnswerBuilder(p.scope, text)
    tree = R.readings(text, fmt, names=p.scope.aliases, functions=p.scope.callable_names())[0][0]
    return b.scalar(b.build(tree)), b.notes


def same(problem, a, b):
    x, _ = built(problem, a)
    y, _ = built(problem, b)
    return sp.simplify(sp.Matrix(x.as_explicit() - y.as_explicit()) if hasattr(x, "as_explicit") else x - y) == 0


def test_letters_written_together_split_into_the_problems_symbols():
    expr, notes = built("problem5", "XW + b")
    assert notes == ["read XW as the product X W"]
    assert expr.shape == built("problem5", "X W + b")[0].shape
    with pytest.raises(AnswerError, match="unknown symbol XQ"):
        built("problem5", "XQ")


def test_i_k_is_the_identity_of_that_size():
    expr, _ = built("problem10", "I_K")
    p = load("problem10")
    assert expr == sp.Identity(p.scope.dims["K"])
    with pytest.raises(AnswerError):
        built("problem10", "I_K + I_m")


@pytest.mark.parametrize("text, note", [
    ("H1 * H1", "read * as the entrywise product ⊙: a matrix product of a d_H×1 and a d_H×1 value does not conform"),
    ("np.tanh(W1 * x)", "read numpy's * as a matrix product: a d_H×d and a d×1 value do not broadcast"),
    ("np.tanh(W1 @ x) * b1", None),                    # numpy's * where it broadcasts: entrywise, nothing to say
])
def test_star_notes(text, note):
    _, notes = built("problem6", text)
    assert notes == [] if note is None else any(n.startswith(note) for n in notes), notes


def test_star_is_a_matrix_product_where_it_conforms():
    _, notes = built("problem6", "W2 * H1")
    assert notes == []
    with pytest.raises(AnswerError, match="cannot multiply a 1×d matrix by a d_H×1 matrix"):
        built("problem6", "x^T * delta2")          # * between different shapes is never entrywise


@pytest.mark.parametrize("text, fmt, first, notes", [
    ("sum(X, 1)", "auto", "1", ()),                # derive's own notation: numpy's axes, one reading
    ("sum(X, 1) .* 2", "auto", "0", ("read sum(…, 1) and sum(…, 2) with Matlab's dimensions, counted from 1",)),
    ("sum(X, 2)", "matlab", "1", ("read sum(…, 1) and sum(…, 2) with Matlab's dimensions, counted from 1",)),
    ("np.sum(X, axis=1)", "auto", "1", ()),
])
def test_sum_dims_read_one_way(text, fmt, first, notes):
    """Matlab's dims in Matlab text, numpy's elsewhere: never both (either axis would then pass)."""
    p = load("problem5")
    out = R.readings(text, fmt, names=p.scope.aliases, functions=p.scope.callable_names())
    tree, said = out[0]
    call = tree if tree.__class__.__name__ == "Call" else tree.left
    axis = call.args[1].args[1] if getattr(call.args[1], "fn", "") == "eq" else call.args[1]   # axis=1
    assert axis.text == first and said == notes
    assert len(out) == 1


def test_hadamard_beside_a_juxtaposition_reads_both_ways():
    p = load("problem7")
    out = R.readings("(1 - a1^2) ⊙ (yhat - y) W2^T", names=p.scope.aliases, functions=p.scope.callable_names())
    assert [n for _, n in out] == [("read (1 - a1^2) ⊙ (yhat - y) W2^T as ((1 - a1^2) ⊙ (yhat - y)) W2^T",),
                                   ("read (1 - a1^2) ⊙ (yhat - y) W2^T as (1 - a1^2) ⊙ ((yhat - y) W2^T)",)]
    assert out[0][0].op == "*" and out[1][0].op == "hadamard"


def test_an_exponential_of_a_matrix_is_entrywise():
    expr, _ = built("problem10", r"\frac{1}{1 + e^{-(W^{(1)} x + b^{(1)})}}")
    assert expr.shape == load("problem10").scope.symbols["b1"].shape


def test_a_prime_on_a_matrix_name_is_a_transpose_and_on_a_function_a_derivative():
    p = load("problem6")
    scope = p.scope
    assert B.read("W2'", scope) == scope.symbols["W2"].T
    assert "sigma" in str(B.read("sigma'(Z1)", scope))
