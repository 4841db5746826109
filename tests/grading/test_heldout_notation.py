"""The held-out notation corpus (issue 21): answers written as students paste them — numpy, Matlab,
Unicode from phones, LaTeX with a left-hand side, E-notation — over four catalogue problems, each
labelled by an independent oracle (oracles.py: numpy and torch autograd, at ordinary and small
scales). The checker must agree with at least 98% of the labels and never accept a wrong answer."""
import csv
from pathlib import Path

import pytest
from oracles import label

import derive

CORPUS = Path(__file__).parent.parent / "data" / "notation" / "heldout.tsv"
ROWS = list(csv.DictReader(CORPUS.open(encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE))


def test_the_corpus_is_large_and_mixed():
    assert len(ROWS) >= 150
    assert {r["problem"] for r in ROWS} >= {"problem2", "problem6", "problem7", "problem10"}
    assert sum(r["label"] == "incorrect" for r in ROWS) >= 50


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['problem']}:{r['quantity']}:{r['answer']}")
def test_labels_come_from_the_oracle(row):
    assert label(row["problem"], row["quantity"], row["meaning"]) == row["label"]


@pytest.fixture(scope="module")
def verdicts():
    with derive.Checker(workers=1) as c:
        return [c.check(r["problem"], r["quantity"], r["answer"]) for r in ROWS]


def test_the_checker_agrees_with_the_oracle(verdicts):
    wrong = [(r["problem"], r["quantity"], r["answer"], r["label"], v.verdict, v.feedback)
             for r, v in zip(ROWS, verdicts) if (v.verdict == "correct") != (r["label"] == "correct")]
    false_accepts = [w for w in wrong if w[4] == "correct"]
    assert not false_accepts, false_accepts
    assert len(wrong) <= 0.02 * len(ROWS), wrong


def test_every_rejected_answer_says_how_it_was_read(verdicts):
    unexplained = [(r["answer"], v.verdict, v.feedback) for r, v in zip(ROWS, verdicts)
                   if v.verdict in ("incorrect", "invalid") and not v.interpreted and v.diagnosis != ("syntax",)]
    assert not unexplained, unexplained
