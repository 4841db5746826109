"""What a sheet prints in a problem's own notation (W^{1\\top}, {\\delta^{2}}) reads back as the same
answer when a student copies it into the checker."""
import pytest
import sympy as sp

import derive
from derive.notation import display
from derive.notation.latex import latex


@pytest.mark.parametrize("name", ["problem6", "problem7", "problem8", "problem5"])
def test_results_printed_in_the_problems_notation_check_correct(name):
    sol = derive.solve(name)
    p = sol.problem
    assert p.display                                     # these problems spell names their own way
    for r in sol.derivation.results:
        q = r.quantity
        if not q.kind.graded or not q.kind.mutated or r.index_form is not None or r.expr.atoms(sp.OneMatrix):
            continue
        with display.using(p.display):
            shown = latex(r.expr)
        if r"\mathbb{1}" in shown:                      # relu' as an indicator: not read back in LaTeX (main)
            continue
        got = derive.check(name, q.name, shown, format="latex")
        assert got.verdict == "correct", (q.name, shown, got.feedback)


def test_a_superscripted_transpose_reads_as_the_name_transposed():
    got = derive.check("problem6", "delta2", r"\sigma'\left({Z^{1}}\right) \odot \left(W^{2\top} {\delta^{3}}\right)",
                       format="latex")
    assert got.verdict == "correct"
    assert derive.check("problem6", "delta2", r"\sigma'(Z^1) \odot (W^{2} \delta^{3})", format="latex").verdict \
        == "incorrect"                                   # without the transpose it is another matrix
