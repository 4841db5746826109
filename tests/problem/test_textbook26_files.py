"""The issue-26 problems written as their textbooks state them (label smoothing, L1 regression,
SiLU/GELU, an LSTM step with two given gradients) pass `derive validate`: they verify, their sample
answers get the recorded verdicts (textbook answers correct, typical mistakes incorrect) and every
mutant is rejected. Their gradients against torch autograd are in tests/engine."""
from pathlib import Path

import pytest

from derive.validate import validate_file

FILES = sorted((Path(__file__).resolve().parents[1] / "data" / "textbook26").glob("*.toml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_textbook_problem_validates(path):
    report = validate_file(path, mutants="sample")
    assert [line.text for line in report.lines if not line.ok] == []
    assert any(line.text.startswith("solves and verifies") for line in report.lines)
