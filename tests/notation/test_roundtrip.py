"""What the tool prints as an answer, typed back into the checker, is correct (text and LaTeX)."""
from pathlib import Path

import pytest
import sympy as sp

from derive import check
from derive.notation.latex import latex
from derive.notation.text import text

CORE = [f"problem{i}" for i in range(1, 8)]


def answers(solved):
    for name in CORE:
        sol = solved(name)
        for r in sol.derivation.results:
            yield name, r.quantity.name, (r.index_form if r.index_form is not None else r.expr)


ALL = [f"problem{i}" for i in range(1, 18)] + \
    sorted(str(p) for p in (Path(__file__).parent.parent / "data" / "jacobian").glob("*.toml"))


@pytest.mark.parametrize("name", ALL, ids=lambda n: Path(n).stem)
def test_printed_text_answers_check_as_correct(solved, name):
    """Every result as derive prints it (closed forms after simplification included) reads back."""
    for r in solved(name).derivation.results:
        if not r.quantity.kind.graded or not r.quantity.kind.mutated:
            continue
        expr = r.index_form if r.index_form is not None else r.expr
        got = check(name, r.quantity.name, text(expr))
        assert got.verdict == "correct", (name, r.quantity.name, text(expr), got.feedback)


def test_printed_latex_answers_check_as_correct(solved):
    for name, quantity, expr in answers(solved):
        if expr.atoms(sp.OneMatrix):         # 1_N^T in LaTeX is not read back; sum(X, 0) is, in text
            continue
        r = check(name, quantity, latex(expr))
        assert r.verdict == "correct", (name, quantity, latex(expr), r.feedback)


@pytest.mark.parametrize("answer", ["relu'(v1)", "1(v1 > 0)", "(v1 > 0)", r"\mathbb{1}\left[v_1 > 0\right]",
                                    r"\mathbb{1}[v_1 \gt 0]"])
def test_the_seed_indicator_notation_is_relu_prime(answer):
    assert check("problem2", "dz/db1", answer).verdict == "correct"
    assert check("problem2", "dz/dw1", f"x1 {answer}").verdict == "correct"


def test_only_comparisons_with_zero():
    r = check("problem2", "dz/db1", "1(v1 > 2)")
    assert r.verdict == "invalid" and "comparison with 0" in r.feedback[0]


def test_column_sums_and_diag_read_back():
    assert check("problem5", "dL/dbeta", "sum(dL/dy, 0)").verdict == "correct"
    assert check("problem5", "dL/dbeta", "sum(dL/dy, 1)").verdict != "correct"
    assert check("problem4", "dP_j/dh_i", "diag(P) - P P^T").verdict == "correct"


def test_numerator_layout_answers_read_back_within_the_allowed_symbols(solved):
    """Seed 001: answers use only the allowed variables; Jacobians may be typed as I and diag(.)."""
    for name in ("problem8", "problem9", "problem10"):
        for r in solved(name).derivation.results:
            shown = r.index_form if r.index_form is not None else r.expr
            res = check(name, r.quantity.name, text(shown))
            assert res.verdict == "correct", (name, r.quantity.name, text(shown), res.feedback)
    assert check("problem8", "dyhat/dz3", "I").verdict == "correct"
    assert check("problem8", "dyhat/dz3", r"\mathbb{I}").verdict == "correct"
    assert check("problem8", "dz2/dz1", "diag(relu'(z1))").verdict == "correct"
