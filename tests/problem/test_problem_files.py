"""Problem files: the catalogue loads; a malformed file is named with its key and position."""
import re

import pytest

from derive import ProblemSpecError, UnknownError, catalogue, load
from derive.problem.load import load_file

GOOD = '''
id = "tiny"
title = "Tiny"
forward = ["h = sigma(w*x + b)"]
output = "h"
quantities = ["dh/dw"]
[symbols]
x = "scalar"
w = "scalar"
b = "scalar"
'''


def write(tmp_path, text, name="p.toml"):
    f = tmp_path / name
    f.write_text(text)
    return f


def test_catalogue_has_the_six_core_problems_by_id_and_alias():
    ids = {p.alias: p.id for p in catalogue()}
    assert ids["problem1"] == "scalar-chain" and ids["problem6"] == "two-hidden-deltas"
    assert {"problem2": "residual-relu", "problem3": "sigmoid-graph", "problem4": "softmax-ce",
            "problem5": "batchnorm-backward"}.items() <= ids.items()
    assert load("scalar-chain") == load("problem1")


@pytest.mark.parametrize("mutation, key, message", [
    (lambda t: t.replace('id = "tiny"\n', ""), "id", "missing required key"),
    (lambda t: t.replace("w*x + b", "w*x + "), "forward[0]", "operand is missing"),
    (lambda t: t.replace("w*x + b", "w*q + b"), "forward[0]", "unknown symbol q"),
    (lambda t: t.replace('x = "scalar"', 'x = ["n", 1]'), "symbols.x", "unknown dimension 'n'"),
    (lambda t: t.replace('"h = sigma', '"h sigma'), "forward[0]", "needs '='"),
    (lambda t: t.replace('"dh/dw"', '"dh/dv"'), "quantities[0]", "unknown name v"),
    (lambda t: t + "\n[[[", "", "not valid TOML"),
])
def test_malformed_files_name_file_key_and_problem(tmp_path, mutation, key, message):
    f = write(tmp_path, mutation(GOOD))
    with pytest.raises(ProblemSpecError, match=re.escape(message)) as err:
        load_file(f)
    assert str(f) in str(err.value)
    assert err.value.key == key


def test_expression_errors_carry_the_column(tmp_path):
    f = write(tmp_path, GOOD.replace("w*x + b", "w*x + b)"))
    with pytest.raises(ProblemSpecError) as err:
        load_file(f)
    # 'h = sigma(w*x + b))': the stray parenthesis stands at column 19 of the equation
    assert err.value.position == len("h = sigma(w*x + b)")
    assert "column 19" in str(err.value)


def test_shape_mismatch_in_a_forward_equation_is_reported_with_both_shapes(tmp_path):
    text = GOOD.replace('x = "scalar"', 'x = ["n", 1]').replace('w = "scalar"', 'w = ["n", "m"]') \
        .replace('b = "scalar"', 'b = ["m", 1]').replace("title", 'dims = ["n", "m"]\ntitle')
    with pytest.raises(ProblemSpecError, match=r"cannot multiply a n×m matrix by a n×1 matrix"):
        load_file(write(tmp_path, text))


def test_user_problem_dir_and_duplicate_ids(tmp_path):
    write(tmp_path, GOOD)
    assert any(p.id == "tiny" for p in catalogue(tmp_path))
    write(tmp_path, GOOD.replace('"tiny"', '"scalar-chain"'), "clash.toml")
    with pytest.raises(ProblemSpecError, match="already used"):
        catalogue(tmp_path)


@pytest.mark.parametrize("problem, written, name", [
    ("vae-gaussian-kl", "dL/dμ", "dL/dmu"), ("vae-gaussian-kl", "∂L/∂μ", "dL/dmu"),
    ("vae-gaussian-kl", r"\frac{\partial L}{\partial \mu}", "dL/dmu"), ("problem6", "∂ρ/∂W¹", "drho/dW1"),
    ("problem6", r"\frac{\partial \rho}{\partial W^{(1)}}", "drho/dW1"), ("ridge-regression", "dRSS/dβ", "dRSS/dbeta"),
    ("batchnorm-layer", r"\frac{\partial \ell}{\partial \hat{x}}", "dl/dxhat"),        # \ell and \hat{x} as LaTeX names them
    ("batchnorm-layer", r"\frac{\partial \ell}{\partial \gamma}", "dl/dgamma"),
    ("lstm-cell-step", r"\frac{\partial L}{\partial \mathbf{c}}", "dL/dc"),
])
def test_a_quantity_is_found_however_its_name_is_written(problem, written, name):
    assert load(problem).quantity(written).name == name


def test_unknown_problem_and_quantity_list_what_exists():
    with pytest.raises(UnknownError, match=r"unknown problem 'nope'; known: problem1 \(scalar-chain\)"):
        load("nope")
    with pytest.raises(UnknownError, match=r"unknown quantity 'dL/dw9'.*known: dL/dw1, dL/dw2"):
        load("problem1").quantity("dL/dw9")
