"""plain(): the LaTeX echo as readable text where it cannot be typeset (Gradescope text feedback, the
class summary). Expectations are written by hand from what a TA would type."""
import pytest

from derive.notation.plain import plain


@pytest.mark.parametrize("latex, text", [
    (r"\sigma'\left(Z_{2}\right) \odot \left(W_{3}^{\top} \delta_{4}\right)", "σ'(Z2) ⊙ (W3ᵀ δ4)"),
    (r"\frac{\partial \rho}{\partial b_{3}}", "∂ρ/∂b3"),
    (r"\frac{1}{5}", "1/5"),
    (r"\frac{a + b}{c}", "(a + b)/c"),
    (r"- \mathrm{params}_{2} + \mathrm{params}_{\mathrm{total}}", "- params_2 + params_total"),
    (r"e^{- x} + \sqrt{x + 1}", "e^(- x) + √(x + 1)"),
    (r"\hat{y} - y", "y\u0302 - y"),
])
def test_echoes_read_as_typed(latex, text):
    assert plain(latex) == text


@pytest.mark.parametrize("hostile", ["{" * 5000, "}" * 10, "\\frac{", "x" * 30000, "\\" * 7])
def test_anything_else_comes_back_unchanged_or_as_text_without_failing(hostile):
    assert isinstance(plain(hostile), str)
