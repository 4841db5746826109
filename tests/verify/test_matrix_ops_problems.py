"""The matrix-operations set (bench/matrix_ops/, issue 26): every problem file passes
`derive validate` (solves and verifies, its textbook answers correct and its typical mistakes
not, the sheet typesets); every textbook form is graded correct; every closed form `derive solve`
states is within 1.3x the textbook form's size."""
import shutil

import pytest
from bench_matrix_ops import forms, problem_files
from textbook_set import TARGET, derived_text, sizes

import derive
from derive.validate import validate

FORMS = forms()


def test_every_file_validates():
    reports = validate([str(p) for p in problem_files()], tex=bool(shutil.which("latexmk")))
    failed = [(r.path, line.text) for r in reports for line in r.lines if not line.ok]
    assert not failed
    assert len(reports) == len(problem_files()) >= 14


def test_forms_cover_every_asked_quantity_once(solved):
    asked = {(p.stem, q.name) for p in problem_files() for q in solved(str(p)).problem.quantities}
    given = [(f.problem, solved(str(f.path)).problem.quantity(f.quantity).name) for f in FORMS]
    assert len(given) == len(set(given)) and set(given) == asked


@pytest.mark.parametrize("form", FORMS, ids=[f"{f.problem}:{f.quantity}" for f in FORMS])
def test_textbook_form_is_correct_and_what_solve_states(solved, form):
    r = derive.check(str(form.path), form.quantity, form.text)
    assert r.verdict == "correct", (r.verdict, r.feedback)
    sol = solved(str(form.path))
    derived, textbook = sizes(sol, form)
    assert derived <= TARGET * textbook, (derived_text(sol, form.quantity), form.text)
