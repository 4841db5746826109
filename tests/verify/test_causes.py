"""Issue 26, item 4: refusals and failed proofs say what to write instead (a likely cause for a
NOT verified line, what to write for an expression with no value)."""
import pytest
import sympy as sp

from derive.errors import EvalError
from derive.expr.numeric import evaluate
from derive.validate import validate_file

RELU_AT_KINK = '''id = "relu-at-kink"
title = "ReLU evaluated at its kink"
forward = ["h = relu(w x)", "y = h + w"]
quantities = ["dy/dw"]
values = {w = 0.0, x = 2.0}
[symbols]
w = "scalar"
x = "scalar"
'''


def test_a_not_verified_line_names_the_kink_at_the_given_values(tmp_path):
    f = tmp_path / "kink.toml"
    f.write_text(RELU_AT_KINK)
    lines = [line.text for line in validate_file(f, mutants="none").lines if not line.ok]
    assert lines == ["verify: dy/dw NOT verified (relative error 0.5); likely cause: at the given values the "
                     "argument of relu sits on its kink, where the derivative is one-sided: choose values off it"]


def test_a_derivative_without_formula_says_what_to_write():
    x = sp.Symbol("x")
    with pytest.raises(EvalError, match="has no value here; write the derivative out"):
        evaluate(sp.Derivative(sp.Function("g")(x), x), {"x": 0.5}, {})
