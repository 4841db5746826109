"""The [display] table: what an entry may hold, and what the aliases spell."""
import pytest

from derive.notation import display
from derive.notation.latex import name_latex


@pytest.mark.parametrize("entry", [r"W^{(1)}", r"\hat{h}", r"h_{t-1}", r"\mathbf{W}_{1}", r"h^{[1]}", r"\sigma^{2}"])
def test_entries_that_are_names(entry):
    assert display.check(entry) is None


@pytest.mark.parametrize("entry,why", [
    (r"\input{x}", r"\input is not allowed"), (r"W^", "needs its script"), (r"W_{1", "unbalanced"),
    ("", "the name's LaTeX"), ("x" * 61, "at most 60"), (r"$x$", "only letters"), (r"\def\x{y}", r"\def is not allowed"),
])
def test_entries_that_could_break_or_escape_the_sheet(entry, why):
    assert why in display.check(entry)


def test_aliases_spell_superscripts_and_hats_only():
    table = display.table({"W2": r"\mathbf{W}_2"}, {"W^(1)": "W1", "W^(2)": "W2", "delta^4": "delta4",
                                                    "hat{y}": "yhat", "Z_1": "z1", "nin": "n_in"})
    assert table == {"W2": r"\mathbf{W}_2", "W1": "W^{(1)}", "delta4": r"\delta^{4}", "yhat": r"\hat{y}"}
    with display.using(table):
        assert name_latex("dL/dW1") == r"\frac{\partial L}{\partial {W^{(1)}}}"
    assert name_latex("W1") == "W_{1}"                       # outside the problem: the default spelling
