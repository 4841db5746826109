"""Each class of notation issue 21 names, several spellings each, correct and incorrect, graded through
the public checker; the labels come from the numpy/torch oracles (oracles.py), never from derive."""
import csv
from pathlib import Path

import pytest
from oracles import label

import derive

TABLE = Path(__file__).parent.parent / "data" / "notation" / "classes.tsv"
ROWS = list(csv.DictReader(TABLE.open(encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE))
CLASSES = ("numpy", "matlab", "star", "unicode", "surround", "enotation", "names", "grouping", "steep", "broadcast",
           "rows")


@pytest.fixture(scope="module")
def checker():
    with derive.Checker(workers=1) as c:
        yield c


def test_every_class_has_several_spellings_right_and_wrong():
    for k in CLASSES:
        labels = [r["label"] for r in ROWS if r["class"] == k]
        assert labels.count("correct") >= 3 and labels.count("incorrect") >= 3, k


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['class']}:{r['answer']}")
def test_the_checker_grades_as_the_oracle(row, checker):
    assert label(row["problem"], row["quantity"], row["meaning"]) == row["label"]
    r = checker.check(row["problem"], row["quantity"], row["answer"])
    assert (r.verdict == "correct") == (row["label"] == "correct"), (r.verdict, r.feedback, r.interpreted)
    if r.verdict in ("incorrect", "invalid") and r.diagnosis != ("syntax",):
        assert r.interpreted, r.feedback                    # always explain how it was read
    assert not any(w in " ".join(r.feedback) for w in ("Error", "Exception", "Traceback"))


@pytest.mark.parametrize("answer, said", [
    ("diag(sigmoid(Z2) * (1 - sigmoid(Z2))) W3^T delta4",
     "Read * as the entrywise product ⊙: a matrix product of a d_H×1 and a d_H×1 value does not conform"),
    ("H2 * (1 - H2) * W3^T * delta4", "a d_H×1 and a d_H×1 value does not conform"),
])
def test_a_star_read_as_entrywise_says_so_in_the_problems_dimensions(answer, said, checker):
    r = checker.check("problem6", "delta3", answer)
    assert r.verdict == "correct" and any(said in f for f in r.feedback), r.feedback


def test_the_grouping_of_hadamard_and_juxtaposition_is_shown(checker):
    r = checker.check("problem7", "dL/dz1", "(1 - a1^2) ⊙ (yhat - y) W2^T")
    assert r.verdict == "correct"
    assert "Read (1 - a1^2) ⊙ (yhat - y) W2^T as (1 - a1^2) ⊙ ((yhat - y) W2^T)" in r.feedback
    r = checker.check("problem7", "dL/dz1", "(1 - a1) ⊙ (yhat - y) W2^T")
    assert r.verdict == "incorrect" and r.interpreted
    assert "Read (1 - a1) ⊙ (yhat - y) W2^T as ((1 - a1) ⊙ (yhat - y)) W2^T" in r.feedback


def test_a_steep_forgery_is_told_where_it_fails(checker):
    r = checker.check("problem10", "dz2/dz1", "diag((1 + tanh(1000 z1))/2)")
    assert r.verdict == "incorrect" and "not at small ones" in r.feedback[0] and "kink" in r.feedback[0]
    r = checker.check("problem6", "delta2", "sigma'(Z1) ⊙ W2^T delta3 + 0.000001 tanh(1000000 Z1)")
    assert r.verdict == "incorrect"


def test_feedback_never_names_a_python_exception(checker):
    r = checker.check("problem6", "drho/dW1", "1_9999 1_9999^T 1_9999 x^T")
    assert r.verdict in ("undecided", "invalid", "incorrect")
    assert not any(w in " ".join(r.feedback) for w in ("Error", "PiB", "GiB")), r.feedback
    r = checker.check("problem6", "drho/dW1", "1_999999999 x^T")
    assert r.verdict == "invalid" and r.diagnosis == ("too_complex",) and "larger than a check" in r.feedback[0]


@pytest.mark.parametrize("answer, said", [
    ("W_i", "W_i: an entry of a D×H matrix needs two indices"),
    ("X_i", "X_i: an entry of a N×D matrix needs two indices"),
    ("X_ij W", "W is a D×H matrix: in index notation write its entries"),
])
def test_index_notation_shapes_name_the_problems_dimensions(answer, said, checker):
    r = checker.check("problem5", "dL/dh", answer)
    assert r.verdict == "incorrect" and r.feedback[0].startswith(said), r.feedback


@pytest.mark.parametrize("problem, quantity, answer", [
    ("sdpa-matrix", "dL/dV", "softmax(QK^T/sqrt(d_k), 1)^T dL/dO"),      # QK^T is Q K^T, not (QK)^T
    ("sdpa-matrix", "dL/dV", "softmax(QKᵀ/√d_k, 1)ᵀ ∂L/∂O"),
    ("quadratic-form", "df/dA", "xx^T"),
    ("least-squares-normal", "df/dx", "2A^TAx - 2A^Tb"),                 # ^T glued to the next factor
    ("conv2d-layer", "dL/dK", "conv2d(X, G)"),                             # the statement's G = ∂L/∂Z
    ("rmsnorm-layer", "dL/dg", r"sum(dL/dabar ⊙ \frac{a}{\mathrm{RMS}(a)}, 0)"),   # its RMS(a)
    ("rmsnorm-layer", "dL/dg", "sum(dL/dabar ⊙ a / RMS(a), 0)"),
    ("vae-gaussian-kl", "dL/dl", r"\frac{1}{2}\exp(\ell/2) \odot \varepsilon \odot W^\top(\hat{x} - x) + \frac{1}{2}(\exp(\ell) - 1)"),
    ("label-smoothing-ce", "dH/dz", "softmax(z) - (1 - epsilon) y - epsilon/K"),   # the problem's eps
    ("precision-mle", "df/dX", "S^T - X^-T"), ("precision-mle", "df/dX", "Sᵀ − X⁻ᵀ"),   # the inverse transposed
    ("precision-mle", "df/dX", "S^T - X^(-T)"), ("precision-mle", "df/dX", r"S^\top - X^{-\mathsf T}"),
    ("label-smoothing-ce", "dH/dz", "torch.softmax(z, dim=-1) - (1 - eps)*y - eps/K"),   # -1 of a vector: along it
    ("label-smoothing-ce", "dH/dz", "np.exp(z)/np.exp(z).sum(-1) - (1 - eps)*y - eps/K"),
    ("ridge-regression", "dRSS/dbeta", "2*(X'*X + lambda*eye(p))*beta - 2*X'*y"),      # Matlab's eye(p), not e y e
    ("ridge-regression", "dRSS/dbeta", "-2X^T(y − Xβ) + 2λβ"),            # Greek letters run together: X β, λ β
])
def test_right_answers_as_students_write_them(problem, quantity, answer, checker):
    """The same verdict as the problem file's own right answer (its samples are checked against torch)."""
    p = derive.load(problem)
    right = next(s.answer for s in p.samples if s.quantity == quantity and s.verdict == "correct")
    assert checker.check(problem, quantity, right).verdict == "correct"
    r = checker.check(problem, quantity, answer)
    assert r.verdict == "correct", (r.feedback, r.interpreted)


@pytest.mark.parametrize("problem, quantity, answer", [
    ("precision-mle", "df/dX", "inv(X)(XS)^T - X^-T"),           # (XS)^T is Sᵀ Xᵀ, not X Sᵀ (an attack round)
    ("quadratic-form", "df/dA", "(xx)^T"),                        # x x has no product
    ("layernorm-layer", "dL/da", "s .* (H*g .* dL/dh - sum(g .* dL/dh, 1.0) - ahat .* sum(g .* dL/dh .* ahat, 1.0))/H"),
    ("mlp-mse-relu", "dJ/dW2", "(yhat - y) @ np.max(W1 @ x + b1, 0).T"),   # numpy's axis 0, not np.maximum
])
def test_wrong_answers_in_these_spellings_stay_wrong(problem, quantity, answer, checker):
    assert checker.check(problem, quantity, answer).verdict != "correct"


def test_matlab_dims_are_matlabs_only(checker):
    """In Matlab text mean(·, 1) is the batch mean: layer norm's per-row mean is mean(·, 2). Reading
    the dim also as numpy's axis would accept either, whichever is right."""
    right = "s .* (H*g .* dL/dh - sum(g .* dL/dh, 2) - ahat .* sum(g .* dL/dh .* ahat, 2))/H"
    wrong = "s .* (H*g .* dL/dh - sum(g .* dL/dh, 1) - ahat .* sum(g .* dL/dh .* ahat, 1))/H"
    assert checker.check("layernorm-layer", "dL/da", right).verdict == "correct"
    assert checker.check("layernorm-layer", "dL/da", wrong).verdict != "correct"


def test_a_ones_vector_is_never_dropped_by_the_broadcast_reading(checker):
    """γ 1ᵀ ∂ℓ/∂y is γ times a column sum (1×D), not γ ⊙ ∂ℓ/∂y (m×D): no broadcast reading beside a 1."""
    r = checker.check("batchnorm-layer", "dl/dxhat", r"\gamma \mathbf{1}^\top \frac{\partial \ell}{\partial y}")
    assert r.verdict != "correct", r.feedback


def test_a_row_of_ones_after_a_matrix_is_said_not_dropped(checker):
    """X 1ᵀ for a full X has no product; it was read as X (the ones dropped) and graded by X's value."""
    r = checker.check("causal-attention", "dL/dS", "A ⊙ (dL/dA - (dL/dA ⊙ A) 1 1ᵀ)")
    assert r.verdict != "correct" and "row of ones after" in r.feedback[0], r.feedback
