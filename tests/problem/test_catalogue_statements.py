"""The catalogue's statements read as homework: no editor's or grader's notes, prose parts labelled
one per answer space, titles in words (at most one short f = ...)."""
import re

import pytest

from derive import catalogue

PROBLEMS = catalogue()

# what an editor or a grader writes, never a student's question
NOTES = re.compile(r"\bseed\b|\bthe source\b|source's|printed answer|Algorithm \d|backward code|"
                   r"\bin answers\b|\\texttt\{(?:go|gh)\d|write sums|as sum\(|figure is missing", re.I)


@pytest.mark.parametrize("p", PROBLEMS, ids=lambda p: p.id)
def test_statement_and_title_hold_no_editor_notes(p):
    for text in (p.statement, p.title):
        assert not NOTES.search(text), f"{p.id}: {NOTES.search(text)[0]!r} in {text[:80]!r}"


@pytest.mark.parametrize("p", PROBLEMS, ids=lambda p: p.id)
def test_prose_parts_are_labelled_one_per_question_in_order(p):
    prose = [q for q in p.quantities if not q.kind.graded and q.kind.name.lower() == "prose"]
    labels = re.findall(r"\\item\[([^\]]{1,12})\]", p.statement)
    if not labels:
        return
    assert len(labels) == len(prose), f"{p.id}: {len(labels)} item labels, {len(prose)} prose questions"
    assert labels == [f"({chr(ord('a') + k)})" for k in range(len(labels))], f"{p.id}: {labels}"
    for label, q in zip(labels, prose):      # a model answer that names its part names this one
        m = re.match(r"\s*(\([a-z]\))\s", q.model_answer or "")
        assert m is None or m[1] == label, f"{p.id}: {q.name} answers {m[1]} at {label}"


@pytest.mark.parametrize("p", PROBLEMS, ids=lambda p: p.id)
def test_title_is_words_not_a_formula(p):
    assert not re.search(r"\d\s*x\s*\d", p.title), p.title            # 2x2: two-by-two
    assert len(re.findall(r"\s=\s", p.title)) <= 1, p.title            # one f = ... at most
