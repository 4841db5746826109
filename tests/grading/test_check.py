"""derive.check: the catalogue's sample answers, diagnoses, index quantities, the CLI."""
import json
import re
import subprocess
import sys

import pytest

import derive
from derive import check
from derive.cli import main
from derive.problem.load import catalogue

SAMPLES = [(p.id, s.quantity, s.answer, s.verdict) for p in catalogue(library=False) for s in p.samples]


@pytest.mark.parametrize("problem,quantity,answer,verdict", SAMPLES,
                         ids=[f"{p}:{q}:{a[:30]}" for p, q, a, _ in SAMPLES])
def test_catalogue_sample_answers(problem, quantity, answer, verdict):
    r = check(problem, quantity, answer)
    assert r.verdict == verdict, r.feedback


def test_seed_000_latex_answer_is_correct():
    r = derive.check("problem1", "dL/dw1", r"\frac{\partial L}{\partial h_3} f'_3 w_3 f'_1 x")
    assert r.correct and r.score == 1.0 and r.diagnosis == ()
    assert r"\frac{\partial L}{\partial h_{3}}" in r.interpreted


def test_seed_004_z_is_incorrect():
    r = check("problem2", "z", "0")
    assert r.verdict == "incorrect" and not r.correct and r.score == 0.0


@pytest.mark.parametrize("problem,quantity,answer,code,words", [
    ("problem1", "dL/dw1", "-dL/dh3 f3' w3 f1' x", "sign", "sign"),
    ("problem1", "dL/dw1", "2 dL/dh3 f3' w3 f1' x", "constant_factor", "2 times"),
    ("problem1", "dL/dw1", "dL/dh3 f3' w3 x", "missing_factor", "the local derivative at h1"),  # by role
    ("problem1", "dL/dw1", "dL/dh3 f3' w3 f1' x x", "extra_factor", "extra factor x"),
    ("problem1", "dL/dx", "dL/dh3 f3' w3 f1' w1", "missing_term", "2 terms"),
    ("problem6", "drho/dW2", "H1 delta3^T", "transpose", "transpose"),
    ("problem6", "drho/dW1", "x delta2^T", "transpose", "d_H×d"),
    ("problem5", "dL/dgamma", "dL/dy ⊙ hhat", "shape", "1×H"),
    ("problem2", "u1", "-0.8", "constant_factor", "decimal point"),
    ("problem4", "dP_j/dh_i", "P_i (1 - P_i)", "missing_term", "delta_ij"),
])
def test_diagnosis(problem, quantity, answer, code, words):
    r = check(problem, quantity, answer)
    assert r.verdict == "incorrect"
    assert r.diagnosis == (code,)
    assert words in r.feedback[0]


@pytest.mark.parametrize("answer,code,message", [
    ("dL/dh3 f3' w3 f1' w7", "unknown_symbol", "unknown symbol w7; known here: b1, b2, b3"),
    ("dL/dh3 f3' w3 f1' + ", "syntax", "syntax error at column 21: an operand is missing after '+'"),
    ("(x + w1", "syntax", "syntax error at column 8: the '(' at column 1 is never closed"),
    ("dL/dw1", "not_allowed", "dL/dw1 cannot be answered in terms of dL/dw1 itself"),
])
def test_invalid_answers_say_why(answer, code, message):
    r = check("problem1", "dL/dw1", answer)
    assert r.verdict == "invalid" and r.diagnosis == (code,)
    assert r.feedback[0].startswith(message)


@pytest.mark.parametrize("quantity,answer,verdict", [
    ("dL/dh_i", "P(y=i) - y_i", "correct"),
    ("dL/dh_i", "P_i - y_i", "correct"),
    ("dL/dh_i", r"P_{i} - y_{i}", "correct"),
    ("dL/dh_i", "y_i - P_i", "incorrect"),
    ("dL/dh_i", "y_i P_i - y_i", "incorrect"),
    ("dP_j/dh_i", "delta_ij P_j - P_i P_j", "correct"),
    ("dP_j/dh_i", r"\delta_{ij} P_i - P_i P_j", "correct"),
    ("dP_j/dh_i", "P_j (delta_ij - P_i)", "correct"),
    ("dP_j/dh_i", "-P_i P_j", "incorrect"),
])
def test_index_quantities(quantity, answer, verdict):
    assert check("problem4", quantity, answer).verdict == verdict


def test_wrong_index_is_explained():
    # the student may name the free index (issue 10): P_k - y_k is the entry k; two free indices are not
    assert check("problem4", "dL/dh_i", "P_k - y_k").verdict == "correct"
    r = check("problem4", "dL/dh_i", "P_k - y_i")
    assert r.verdict == "incorrect" and "2 free indices (i, k)" in r.feedback[0] and "sum over" in r.feedback[0]


@pytest.mark.parametrize("problem,quantity,answer", [
    ("problem2", "dz/dw1", "0.4"),
    ("problem2", "dz/dw1", "x1 relu'(v1)"),
    ("problem2", "dz/dw1", "2/5"),
    ("problem2", "dz/dx0", "0.94"),
    ("problem3", "dy/dh", "sigma(h)(1-sigma(h))"),
    ("problem3", "dy/dh", r"\frac{e^{-h}}{(1+e^{-h})^2}"),
    ("problem3", "dy/dx", "2 sigma(h)(1-sigma(h))"),
    ("problem6", "delta3", r"\sigma'(Z^2) \odot (W^3)^T \delta^4"),
    ("problem6", "delta3", "sigma'(Z2) .* (W3.T delta4)"),
    ("problem6", "drho/dW1", "delta2 x^T"),
    ("problem6", "delta4", "2(f - y)"),
    ("problem5", "dL/dbeta", "sum(dL/dy, 0)"),
])
def test_equivalent_forms_are_correct(problem, quantity, answer):
    r = check(problem, quantity, answer)
    assert r.verdict == "correct", r.feedback


def test_allowed_symbols(tmp_path):
    src = open(catalogue()[0].path).read().replace('quantities = ["dL/dw1",',
                                                   'quantities = [{name = "dL/dw1", allowed = ["dL/dh3", "w3", "x", "h1"]},')
    src = src.replace('alias = "problem1"', 'alias = ""').replace('id = "scalar-chain"', 'id = "restricted"')
    f = tmp_path / "restricted.toml"
    f.write_text(src)
    r = check(str(f), "dL/dw1", "dL/dh3 f3' w3 f1' x")
    assert r.verdict == "correct"
    r = check(str(f), "dL/dw1", "dL/dh3 f3' w3 f1'(w1 x + b1) x")
    assert r.verdict == "invalid" and r.diagnosis == ("not_allowed",)
    assert "the answer uses b1, w1" in r.feedback[0]


def test_unknown_quantity_raises():
    with pytest.raises(derive.UnknownError, match="unknown quantity 'dL/dw9'"):
        check("problem1", "dL/dw9", "x")


def test_to_dict_is_the_json():
    d = check("problem1", "dL/db3", "dL/dh3 f3'").to_dict()
    assert set(d) >= {"verdict", "correct", "score", "diagnosis", "feedback", "interpreted"}
    assert d["verdict"] == "correct" and d["score"] == 1.0


@pytest.mark.parametrize("answer,code", [("dL/dh3 f3'", 0), ("dL/dh3", 1), ("dL/dh3 +", 2), ("w9", 2)])
def test_cli_exit_codes(answer, code, capsys):
    assert main(["check", "problem1", "dL/db3", answer]) == code
    out = capsys.readouterr().out
    assert "Traceback" not in out


def test_cli_json_and_stdin():
    proc = subprocess.run([sys.executable, "-c", "import sys; from derive.cli import main; sys.exit(main())",
                           "check", "problem1", "dL/db3", "-", "--json"],
                          input="dL/dh3 f3'", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "correct"


def test_cli_help_has_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    assert "example: derive check" in capsys.readouterr().out


def test_matrix_square_is_evaluated():
    r = check("problem6", "drho/dW2", "(delta3 H1^T)(delta3 H1^T)")
    assert r.verdict == "incorrect"


# ---- LaTeX the seeds and statements write (regressions) -----------------------------------
@pytest.mark.parametrize("problem,quantity,answer", [
    # \tanh^{2} Z_{1} is (tanh z1)^2: a function power with the argument unbracketed (seed 002, eq. 22)
    ("problem7", "dL/db1", r"(1 - \tanh^{2} Z_{1}) \odot ((\hat{y} - y) W_{2}^{T})"),
    ("problem7", "dL/db1", r"(1 - \tanh^2(z_1)) \odot ((\hat{y} - y) W_2^T)"),
    ("problem7", "dL/dz1", "(1 - tanh z1 ⊙ tanh z1) ⊙ ((yhat - y) W2^T)"),
    # \ell and W^{(2)} as the two-layer statements write them
    ("problem9", "dl/dW1", r"x \frac{\partial \ell}{\partial \hat{y}} \frac{\partial \hat{y}}{\partial z_3} "
                           r"W^{(2)} \frac{\partial z_2}{\partial z_1}"),
    ("problem9", "z1", r"W^{(1)} x + b^{(1)}"),
])
def test_statement_latex_is_understood(problem, quantity, answer):
    r = check(problem, quantity, answer)
    assert r.verdict == "correct", r.feedback


def test_seed_002_w1_gradient_is_a_shape_error_not_an_unknown_tanh():
    r = check("problem7", "dL/dW1", r"x^{T} (1 - \tanh^{2} Z_{1})(y - \hat{y}) W_{2}^{T}")
    assert r.verdict == "incorrect" and r.diagnosis == ("shape",)
    assert "2×500" in r.feedback[0] and "1×2" in r.feedback[0]


def test_a_bare_function_name_is_not_read_as_a_symbol():
    r = check("problem6", "delta3", "sigma^2")
    assert r.verdict == "invalid" and r.diagnosis == ("syntax",)
    assert r.feedback[0].startswith("sigma is a function: apply it to an argument")


DIAGNOSED = [(p.id, s.quantity, s.answer, m.group(1)) for p in catalogue(library=False) for s in p.samples
             if s.note and (m := re.search(r"\[([a-z_]+)\]$", s.note))]


@pytest.mark.parametrize("problem,quantity,answer,code", DIAGNOSED,
                         ids=[f"{p}:{q}:{c}" for p, q, _, c in DIAGNOSED])
def test_sample_notes_name_the_diagnosis(problem, quantity, answer, code):
    """A sample whose note ends in [code] gets that diagnosis (the verdict alone would not show it)."""
    assert code in check(problem, quantity, answer).diagnosis


@pytest.mark.parametrize("answer", ["exp", "sigma sigma", "sigma^2^2 z1"])   # a bare tanh is tanh at its node
def test_a_bare_function_name_is_reported_as_a_function_not_an_unknown_symbol(answer):
    r = check("tanh-softmax-net", "dL/dz1", answer)
    assert r.verdict == "invalid" and r.diagnosis == ("syntax",)
    assert "is a function: apply it to an argument" in r.feedback[0]


def test_the_diagnosis_is_the_same_in_every_process():
    """Which form of the result explains a mistake first is a fixed order, not a set's: with string
    hashing seeded per process, dL/dc = go3 was "a sum of 3 terms" in one run and "of 6" in another."""
    import os
    seen = set()
    for seed in ("0", "1", "2", "3"):
        proc = subprocess.run([sys.executable, "-m", "derive.cli", "check", "rnn-bptt-3", "dL/dc", "go3", "--json"],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        out = json.loads(proc.stdout)
        seen.add((out["verdict"], tuple(out["diagnosis"]), tuple(out["feedback"])))
    assert seen == {("incorrect", ("missing_term",),
                     ("a term is missing: dL/dc is a sum of 3 terms (one per path) and the answer has only 1",))}


@pytest.mark.parametrize("spelling", ["1^T dL/dy", "1ᵀ dL/dy", "1.T @ dL/dy", "1' * dL/dy", "1^{T} dL/dy",
                                      r"1^{\top} \frac{\partial L}{\partial y}"])
def test_a_transposed_one_is_the_ones_vector(spelling):
    """A number is never transposed: 1ᵀ X is the ones-vector's sum of X's rows, as \\mathbf{1}^T X is
    (it was read as the number 1, silently dropping the sum)."""
    ref = check("problem5", "dL/dbeta", r"\mathbf{1}^T dL/dy")
    r = check("problem5", "dL/dbeta", spelling)
    assert ref.verdict == r.verdict == "correct" and r.interpreted == ref.interpreted


def test_a_power_of_one_transposed_is_not_the_ones_vector():
    assert check("problem6", "drho/dW1", "delta2 x^1^T").verdict == "correct"            # x¹ transposed
    assert check("problem6", "drho/dW1", r"\delta^2 x^1^{\top}").verdict == "correct"


def test_two_numbers_side_by_side_are_refused_not_multiplied():
    r = check("problem11", "params_1", "31 744")                  # a thousands separator, not 31 × 744
    assert r.verdict == "invalid" and r.diagnosis == ("syntax",)
    assert "two numbers side by side (31 744): write 31744 for one number, or 31 * 744" in r.feedback[0]
    assert check("problem11", "params_1", "31744").verdict == "correct"
    assert check("problem11", "params_1", "(31)(744)").verdict == "incorrect"      # brackets: a product


@pytest.mark.parametrize("quantity, answer", [
    ("dL/do", r"\tanh(c^{\prime}) \odot \frac{\partial L}{\partial h_1}"),     # c' is the problem's c1
    ("delta_c", "dL/dh' ⊙ o ⊙ (1 - tanh(c')^2)"),                          # h' is its h1
    ("dL/dc", "dL/dc' ⊙ f"),
    ("delta_c", r"\frac{\partial L}{\partial h^{\prime}} \odot o \odot (1 - \tanh(c^{\prime})^2)")])
def test_a_primed_name_of_the_problem_is_that_name_not_a_transpose(quantity, answer):
    assert check("lstm-cell-step", quantity, answer).verdict == "correct"


def test_a_prime_after_other_names_is_still_matlabs_transpose():
    r = check("problem6", "drho/dW1", "x delta2'")
    assert r.verdict == "incorrect" and "transpose" in r.feedback[0]
    assert check("problem6", "drho/dW1", "(x delta2')'").verdict == "correct"


@pytest.mark.parametrize("problem, quantity, answer", [
    ("problem1", "dL/db3", "∂L/∂h3 f3'"), ("problem1", "dL/db3", r"\frac{∂L}{∂h_3} f_3'"),
    ("problem1", "dL/db3", "dL/dh_3 f_3'"),                         # text f_3' as LaTeX's: f3', not a transpose
    ("problem13", "variance", r"\frac{2}{n_{\mathrm{in}} + n_{\text{out}}}"),   # the model answer's own notation
    ("rnn-bptt-3", "go3", r"\hat{y}^{(3)} - y^{(3)}"), ("rnn-bptt-3", "go3", "ŷ⁽³⁾ − y⁽³⁾"),   # the statement's
    ("rnn-bptt-3", "gh3", "V^T g_o⁽³⁾"),                                                      # notation
    ("problem4", "dP_j/dh_i", r"P_j \left(\mathbb{1}_{i=j} - P_i\right)"),      # an indicator as a subscript
    ("problem1", "dL/db3", "dL/dh3 · f3'(w3h1 + w4h2 + b3)"),                   # names run together, digits too
    ("attention-single-query", "dL/dq", "K^T dL/ds / √(d_k)"), ("problem6", "delta4", "∑(2(f-y))")])
def test_spellings_students_type_are_read_as_written(problem, quantity, answer):
    """From a probe of 450 typed answers: Unicode ∂, √, ∑ were 'unexpected character' (Unicode is read
    as what it shows), text f_3' was f_3 transposed, and n_{\\mathrm{in}} an unexpected '_'."""
    assert check(problem, quantity, answer).verdict == "correct"


def test_an_answer_too_large_to_compare_says_so_not_nan():
    """exp(400) f overflows the norm: the feedback said 'relative error nan'; a huge constant factor
    was printed with all its 261 digits."""
    r = check("problem6", "delta4", "exp(400) f")
    assert r.verdict == "incorrect" and "too large to compare" in r.feedback[0] and "nan" not in r.feedback[0]
    r = check("problem6", "delta4", "2(f-y) * exp(300)^2")
    assert r.feedback == ("off by a constant factor: the answer is 3.773e+260 times delta4",)


def test_a_factor_of_one_is_read_as_nothing():
    plain = derive.check("problem6", "drho/dW1", "delta2 x^T")
    for answer in ("17/17 delta2 x^T", "1 delta2 x^T", "delta2 x^T * 1"):
        r = derive.check("problem6", "drho/dW1", answer)
        assert (r.verdict, r.interpreted, r.fingerprint) == (plain.verdict, plain.interpreted, plain.fingerprint)


def test_numpys_sum_method_is_graded_as_the_sum():
    """problem5's sample answer sum(dL/dy, 0), typed as numpy's method; axis 1 is still wrong."""
    assert derive.check("problem5", "dL/dbeta", "sum(dL/dy, 0)").verdict == "correct"
    for typed in ("dL/dy.sum(axis=0)", "(dL/dy).sum(axis=0, keepdims=True)", "(1 * dL/dy).sum(0)"):
        assert derive.check("problem5", "dL/dbeta", typed).verdict == "correct", typed
    assert derive.check("problem5", "dL/dbeta", "dL/dy.sum(axis=1)").verdict == "incorrect"
