"""The library (problems/library/): what every problem holds, how it is found (derive list, solve,
sheet --topic), and, library-wide (marked slow), that `derive validate` passes with the mutants, the
sample notes' diagnoses hold, every result is within 1.3x the textbook form, and every `derive code`
module's gradient check passes."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import derive
from derive.cli import main
from derive.codegen import code
from derive.errors import UnknownError
from derive.problem.load import catalogue, library_dir, load_file
from derive.problem.topics import topics, with_topic
from derive.render import pdf as pdf_build
from derive.render import sheet
from derive.validate import validate

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_library import TARGET, ratios  # noqa: E402

LIBRARY = {load_file(f).id: str(f) for f in sorted(library_dir().glob("*.toml"))}

PROBLEMS = [load_file(f) for f in LIBRARY.values()]
TOPICS = ["mlp-losses", "regularization", "normalization", "recurrent", "attention", "convolution",
          "embeddings", "architectures", "matrix-calculus"]


def test_the_library_is_large_and_every_problem_is_complete():
    assert len(PROBLEMS) >= 50
    for p in PROBLEMS:
        assert p.topic in TOPICS, p.id
        assert p.source and p.statement and p.title, p.id
        verdicts = {s.verdict for s in p.samples}
        assert {"correct", "incorrect"} <= verdicts, p.id
        for q in p.quantities:       # every asked gradient has its textbook answer recorded
            if q.kind.asks_gradient:
                assert any(s.verdict == "correct" and p.quantity(s.quantity).name == q.name
                           for s in p.samples), (p.id, q.name)


def test_every_topic_has_problems_and_the_catalogue_lists_them_after_the_seeds():
    everything = catalogue()
    assert set(topics(PROBLEMS)) <= set(TOPICS)
    assert [p.id for p in everything[:28]] == [p.id for p in catalogue(library=False)]
    assert {p.id for p in everything[28:]} == set(LIBRARY)
    assert [p.topic for p in everything[28:]] == sorted(p.topic for p in everything[28:])


def test_derive_list_shows_the_topic_and_filters_by_it(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\s+rnn-bptt-3\s+recurrent\s+Back-propagation through time", out, re.M), out
    assert main(["list", "--topic", "normalization", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} == {p.id for p in PROBLEMS if p.topic == "normalization"}
    assert all(r["topic"] == "normalization" for r in rows)


def test_an_unknown_topic_is_an_error_that_lists_the_topics(capsys):
    assert main(["list", "--topic", "cooking"]) == 2
    err = capsys.readouterr().err
    assert "unknown topic 'cooking'; known: " in err and "mlp-losses, normalization, recurrent" in err
    with pytest.raises(UnknownError, match="unknown topic 'cooking'"):
        with_topic(catalogue(), "cooking")


def test_a_library_problem_is_solved_and_checked_by_its_id(capsys):
    assert main(["solve", "word2vec-naive-softmax", "--quantity", "dJ/dvc"]) == 0
    assert "dJ/dvc = U*(yhat - y)" in capsys.readouterr().out
    assert derive.check("word2vec-naive-softmax", "dJ/dvc", "U (yhat - y)").correct


def test_sheet_topic_makes_a_problem_set(capsys):
    assert main(["sheet", "--topic", "normalization", "--questions"]) == 0
    tex = capsys.readouterr().out
    for p in PROBLEMS:
        assert (p.title in tex) == (p.topic == "normalization"), p.id
    assert "Verified numerically" not in tex


def test_topic_is_checked_when_a_file_is_loaded(tmp_path):
    src = Path(LIBRARY["quadratic-form"]).read_text(encoding="utf-8").replace(
        'topic = "matrix-calculus"', 'topic = "Matrix Calculus"').replace('id = "quadratic-form"', 'id = "qf"')
    f = tmp_path / "qf.toml"
    f.write_text(src, encoding="utf-8")
    with pytest.raises(derive.ProblemSpecError, match="key 'topic': expected a topic of lower-case letters"):
        load_file(f)


def test_the_library_folder_is_installed_as_package_data():
    cfg = (Path(__file__).resolve().parents[2] / "setup.cfg").read_text(encoding="utf-8")
    assert re.search(r"^derive\.problems = \*\.toml, library/\*\.toml$", cfg, re.M)
    assert library_dir().name == "library" and sorted(library_dir().glob("*.toml"))


# ---- library-wide ---------------------------------------------------------------------------
@pytest.mark.slow
def test_derive_validate_passes_on_the_whole_library_mutants_included():
    reports = validate(sorted(library_dir().glob("*.toml")), timeout=10, mutants="sample")   # a loaded CI machine
    assert len(reports) == len(LIBRARY)
    bad = [(r.path, line.text) for r in reports for line in r.lines if not line.ok]
    assert not bad, bad


NOTED = [(p.id, s.quantity, s.answer, m.group(1)) for p in PROBLEMS for s in p.samples
         if s.note and (m := re.search(r"\[([a-z_]+)\]$", s.note))]


@pytest.mark.slow
def test_sample_notes_name_the_diagnosis():
    """A typical mistake whose note ends in [code] is diagnosed so, not only graded incorrect."""
    assert len(NOTED) >= 40
    wrong = [(pid, q, a, code, r.diagnosis) for pid, q, a, code in NOTED
             if code not in (r := derive.check(pid, q, a)).diagnosis]
    assert not wrong, wrong


# results the engine does not yet state within the target, and why (each must still be over: strict)
KNOWN_OVER = {
    ("huber-regression", "dL/dr"): "min(|r|, delta)' is stated with relu'(|r| - delta); the engine does not see "
                                   "that the whole is sign(r) ⊙ q",
    ("huber-regression", "dL/dw"): "as dL/dr",
}


@pytest.mark.slow
def test_every_result_is_within_the_target_of_the_textbook_form():
    rows = ratios()
    assert len(rows) >= 100
    over = {(r.problem, r.quantity): (r.derived, r.textbook) for r in rows if r.ratio > TARGET}
    assert set(over) == set(KNOWN_OVER), over


# sheets with a display wider than the page (> 10 pt), and why: none since a display that cannot
# break (rnn-bptt-3's early steps nest three time steps in one product) is scaled to the page
KNOWN_OVERFULL: dict = {}


def _overfull(tex, path) -> list:
    pdf = pdf_build.compile_pdf(tex, path, keep_log=True)
    assert pdf.stat().st_size > 1000
    log = pdf.with_suffix(".log").read_text(errors="replace")
    return [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log) if float(x) > 10]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("latexmk") is None and shutil.which("pdflatex") is None, reason="no TeX engine")
def test_the_library_sheets_typeset_by_topic_without_overfull_lines(tmp_path):
    """One PDF per topic (as derive sheet --topic T makes it), solutions and questions: no display wider
    than the page, except the known ones (strict: each still overflows)."""
    over = {}
    for topic in topics(PROBLEMS):
        sols = sheet.resolve([p.id for p in PROBLEMS if p.topic == topic and p.id not in KNOWN_OVERFULL])
        for questions in (False, True):
            if wide := _overfull(sheet.render_sheet(sols, questions), tmp_path / f"{topic}-{questions}.pdf"):
                over[topic, questions] = wide
    assert not over, over
    for pid in KNOWN_OVERFULL:
        assert _overfull(sheet.render_sheet(sheet.resolve([pid])), tmp_path / f"{pid}.pdf"), pid


@pytest.fixture(scope="module")
def code_runs(tmp_path_factory):
    """Every library problem's `derive code` module started as `python FILE.py` at once."""
    folder = tmp_path_factory.mktemp("library-code")
    procs = {}
    for pid in LIBRARY:
        path = folder / f"{pid.replace('-', '_')}.py"
        path.write_text(code(pid, "numpy", filename=path.name), encoding="utf-8")
        procs[pid] = subprocess.Popen([sys.executable, path.name], cwd=folder, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_every_derive_code_module_passes_its_gradient_check(code_runs):
    failed = {}
    for pid, proc in code_runs.items():
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            failed[pid] = (out[-400:], err[-400:])
    assert not failed, failed
