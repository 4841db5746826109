"""The verdict and diagnosis tables are the ones the checker uses: every code a check names is a row,
the invalid codes make an answer invalid, and the contract's codes (DESIGN.md) are all there."""
import pytest

import derive
from derive.grading.verdicts import CHECK_VERDICTS, DIAGNOSES, INVALID_CODES, VERDICTS, summary_verdicts

CONTRACT_CODES = {"sign", "constant_factor", "transpose", "layout", "shape", "missing_term", "missing_factor",
                  "extra_factor", "syntax", "unknown_symbol", "not_allowed", "too_complex", "timeout"}

ANSWERS = [   # (problem, quantity, answer, the code a TA would name)
    ("problem6", "drho/dW1", "x delta2^T", "transpose"),
    ("problem6", "drho/dW1", "-delta2 x^T", "sign"),
    ("problem6", "drho/dW1", "2 delta2 x^T", "constant_factor"),
    ("problem1", "dL/dx", "dL/dh3 f3' w3 f1' w1", "missing_term"),
    ("problem6", "drho/dW1", "delta2 x^T +", "syntax"),
    ("problem6", "drho/dW1", "delta7 x^T", "unknown_symbol"),
]


def test_the_contract_codes_are_the_table():
    assert set(DIAGNOSES) == CONTRACT_CODES
    assert VERDICTS == ("correct", "consistent", "incorrect", "invalid", "undecided")
    assert "consistent" not in CHECK_VERDICTS


@pytest.mark.parametrize("problem, quantity, answer, code", ANSWERS)
def test_each_code_a_check_names_is_a_row(problem, quantity, answer, code):
    r = derive.check(problem, quantity, answer)
    assert code in r.diagnosis
    assert set(r.diagnosis) <= set(DIAGNOSES)
    assert r.verdict == ("invalid" if code in INVALID_CODES else "incorrect")


def test_the_summary_lists_consistent_only_when_a_row_has_it():
    assert summary_verdicts({"correct": 1}) == ("correct", "incorrect", "invalid", "undecided")
    assert summary_verdicts({"consistent": 1})[-1] == "consistent"
