"""Sheets: golden .tex per problem, escaping, header, CLI, and (where TeX exists) PDFs.

Regenerate the golden files after an intended change:  DERIVE_UPDATE_GOLDEN=1 python3 -m pytest tests/render/test_sheet.py
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from derive.cli import main
from derive.errors import HeaderError, LatexError
from derive.problem.load import catalogue
from derive.render import header as header_file
from derive.render import pdf as pdf_build, sheet, templates

GOLDEN = Path(__file__).parent.parent / "golden"
UPDATE = os.environ.get("DERIVE_UPDATE_GOLDEN") == "1"
IDS = [p.id for p in catalogue(library=False)]     # the seeds (tests/library/ covers the library)
HAVE_TEX = shutil.which("latexmk") is not None or shutil.which("pdflatex") is not None
needs_tex = pytest.mark.skipif(not HAVE_TEX, reason="no TeX engine (latexmk/pdflatex)")
needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="no pdftotext")


def solutions(*names):
    return sheet.resolve(list(names))


def check_golden(name: str, text: str):
    path = GOLDEN / name
    if not path.exists() and os.environ.get("CI"):
        pytest.fail(f"{path.name} is missing: generate it with DERIVE_UPDATE_GOLDEN=1, review it, commit it")
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.skip(f"wrote new golden file {path.name}")
    assert text == path.read_text(encoding="utf-8"), \
        f"{path.name} differs; after an intended change rerun with DERIVE_UPDATE_GOLDEN=1"


# ---- golden files ------------------------------------------------------------------------------
@pytest.mark.parametrize("pid", IDS)
def test_solution_sheet_matches_golden(pid):
    check_golden(f"{pid}.tex", sheet.render_sheet(solutions(pid)))


@pytest.mark.parametrize("pid", ["residual-relu", "two-hidden-deltas"])
def test_question_sheet_matches_golden(pid):
    check_golden(f"{pid}.questions.tex", sheet.render_sheet(solutions(pid), questions=True))


# ---- content -----------------------------------------------------------------------------------
def test_solution_sheet_shows_steps_results_shapes_and_checks():
    tex = sheet.render_sheet(solutions("problem6"))
    assert r"\delta^{3}" in tex and r"\odot" in tex and r"\top}" in tex and r"\sigma'" in tex
    assert r"\mathbb{R}^{d_{H} \times d}" in tex                    # drho/dW1's shape
    assert tex.count(r"\boxed{") == 9                                 # one per asked quantity
    assert tex.count("Verified numerically") == 1                     # one line for the problem
    assert "the gradient of a matrix product" in tex


def test_question_sheet_has_no_answers():
    tex = sheet.render_sheet(solutions("problem2", "problem6"), questions=True)
    for answer in ("0.62", "-0.08", r"\boxed", "Verified", "Step 1", r"\delta_{3} &="):
        assert answer not in tex
    assert r"\item \answersmall{\frac{\partial z}{\partial w_{0}}}" in tex        # what is asked, with room


def test_numbers_on_graph_and_tables_for_problems_with_values():
    tex = sheet.render_sheet(solutions("problem2"))
    assert "Forward and backward tables" in tex
    assert r"\color{fwdcolor}0.62" in tex                             # z on its node
    assert "0.94" in tex                                               # dz/dx0 (both paths)
    assert "Forward and backward tables" not in sheet.render_sheet(solutions("problem6"))


def test_graph_left_off_question_sheet_when_the_problem_asks_to_draw_it():
    q = sheet.render_sheet(solutions("sigmoid-graph"), questions=True)
    assert "tikzpicture" not in q
    assert "tikzpicture" in sheet.render_sheet(solutions("sigmoid-graph"))


def test_batchnorm_sheet_states_the_compact_closed_form():
    """Seed 002's one wrong result: the sheet boxes dL/dh in the forward names and the given gradient
    only (no dL/dc, dL/dmu from `keep`), and no step's closed form is left out."""
    tex = sheet.render_sheet(solutions("batchnorm-backward"))
    assert "too long to be useful" not in tex
    results = tex[tex.index(r"\subsection*{Results}"):]
    boxed = re.findall(r"\\boxed\{\\begin\{aligned\}\n(.*?)\\end\{aligned\}", results, re.S)
    dh = next(b for b in boxed if b.startswith(r"\frac{\partial L}{\partial h}"))
    assert r"\frac{\partial L}{\partial c}" not in dh and r"\frac{\partial L}{\partial \mu}" not in dh
    assert r"\hat{h}" in dh and r"\gamma" in dh and r"\frac{\partial L}{\partial y}" in dh
    for line in tex.splitlines():
        assert len(line) < 900, line[:80]


def test_prose_is_escaped_statement_is_not():
    assert templates.escape_tex("A & B_1 50% $5 #3 {x} ~ ^ \\") == \
        r"A \& B\_1 50\% \$5 \#3 \{x\} \textasciitilde{} \textasciicircum{} \textbackslash{}"
    header = header_file.Header(course="Deep Learning & Co_1", assignment="HW #2", date="")
    tex = sheet.render_sheet(solutions("problem3"), header=header)
    assert r"Deep Learning \& Co\_1" in tex and r"HW \#2" in tex
    assert r"\frac{1}{1 + e^{-h}}" in tex                              # statement kept as LaTeX


def test_header_from_config_and_options(tmp_path):
    cfg = tmp_path / "header.toml"
    cfg.write_text('[header]\ncourse = "CS 7643"\nassignment = "Homework 2"\ndate = "2025-03-01"\n')
    h = header_file.read_header(cfg, date="2025-04-01")
    assert h == header_file.Header("CS 7643", "Homework 2", "2025-04-01")
    bad = tmp_path / "bad.toml"
    bad.write_text('colour = "red"\n')
    with pytest.raises(HeaderError, match="unknown key"):
        header_file.read_header(bad)
    with pytest.raises(HeaderError, match="cannot read"):
        header_file.read_header(tmp_path / "missing.toml")


# ---- command line ------------------------------------------------------------------------------
def test_cli_writes_tex(tmp_path, capsys):
    out = tmp_path / "s.tex"
    assert main(["sheet", "problem1", "problem2", "-o", str(out), "--course", "CS 101"]) == 0
    marker, tex = out.read_text().split("\n", 1)     # derive's own files start with a marker comment
    assert marker.startswith("% generated by derive")
    assert tex.startswith(r"\documentclass") and "CS 101" in tex and tex.count(r"\section*") == 2


def test_cli_tex_to_stdout_and_questions(capsys):
    assert main(["sheet", "problem2", "--questions"]) == 0
    out = capsys.readouterr().out
    assert r"\documentclass" in out and "0.62" not in out


@pytest.mark.parametrize("argv, message", [
    (["sheet", "nosuch"], "unknown problem"),
    (["sheet"], "at least one problem"),
    (["sheet", "problem1", "-o", "x.docx"], "must end in .tex or .pdf"),
    (["sheet", "problem1", "--config", "/nonexistent/h.toml"], "cannot read"),
])
def test_cli_errors_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err


def test_help_has_examples(capsys):
    for cmd in ("sheet", "graph"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        assert "example" in capsys.readouterr().out


def test_pdf_without_tex_writes_tex_and_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pdf_build.shutil, "which", lambda name: None)
    assert main(["sheet", "problem3", "-o", str(tmp_path / "s.pdf")]) == 0
    assert (tmp_path / "s.tex").exists() and not (tmp_path / "s.pdf").exists()
    err = capsys.readouterr().err
    assert "apt-get install latexmk" in err and err.count("\n") == 1


def test_log_excerpt_keeps_error_lines_only():
    log = "\n".join(["This is pdfTeX"] + ["(noise)"] * 200 +
                    ["! Undefined control sequence.", "l.12 \\foo", "", "more", "x", "y", "z"] + ["(tail)"] * 50)
    ex = pdf_build.log_excerpt(log)
    assert ex.startswith("! Undefined control sequence.") and "l.12" in ex and "(noise)" not in ex


def test_templates_found():
    assert (templates.templates_dir() / "sheet.tex.j2").is_file()


# ---- PDF (skipped without TeX; CI installs it) -------------------------------------------------
def pdftext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def overfull(log: str, limit: float = 10.0) -> list:
    return [float(m) for m in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log) if float(m) > limit]


@pytest.fixture(scope="module")
def all_pdf(tmp_path_factory):
    if not HAVE_TEX:
        pytest.skip("no TeX engine")
    d = tmp_path_factory.mktemp("pdf")
    seeds = sheet.resolve(IDS)         # the seeds' catalogue (tests/library/ typesets the library)
    pdf = pdf_build.compile_pdf(sheet.render_sheet(seeds), d / "all.pdf", keep_log=True)
    qpdf = pdf_build.compile_pdf(sheet.render_sheet(seeds, questions=True), d / "q.pdf")
    return pdf, qpdf


@pytest.mark.slow
@needs_tex
@needs_pdftotext
def test_whole_catalogue_compiles_with_expected_results(all_pdf):
    pdf, qpdf = all_pdf
    text = pdftext(pdf)
    assert "0.62" in text                                  # problem2's z
    assert "−0.08" in text or "-0.08" in text              # u1, not the seed's -0.8
    assert "δ" in text and "Step" in text                  # problem6's named deltas
    assert text.count("Verified numerically") >= 15          # one line per problem that proves something
    qtext = pdftext(qpdf)
    for answer in ("0.62", "0.94", "Verified numerically", "Step 1"):
        assert answer not in qtext
    assert not overfull(pdf.with_suffix(".log").read_text(errors="replace"))


@pytest.mark.slow
@needs_tex
@needs_pdftotext
def test_no_page_of_the_catalogue_sheets_holds_only_a_line_or_two(all_pdf):
    """Problems follow on the same page when they fit (issue 22: a key's fourth page held two lines)."""
    for pdf in all_pdf:
        pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
        for n, page in enumerate(pages.split("\f")[:-1], 1):
            lines = [x for x in page.splitlines() if x.strip() and x.strip() not in ("Questions", "Solutions", str(n))]
            answer_space = pdf.name == "q.pdf" and re.search(r"^\s*(\d+\.|Answer)", page, re.M)  # boxes to write in
            assert len(lines) >= 8 or answer_space, (pdf.name, n, lines)
            assert ("Solutions" if pdf.name == "all.pdf" else "Questions") in page      # every page's header


@needs_tex
@pytest.mark.parametrize("pid", IDS)
def test_each_problem_compiles_alone(pid, tmp_path):
    pdf = pdf_build.compile_pdf(sheet.render_sheet(solutions(pid)), tmp_path / f"{pid}.pdf", keep_log=True)
    assert pdf.stat().st_size > 1000
    assert not overfull(pdf.with_suffix(".log").read_text(errors="replace"))


@needs_tex
def test_latex_failure_shows_the_relevant_log_lines(tmp_path):
    bad = "\\documentclass{article}\n\\begin{document}\n\\undefinedmacro\n\\end{document}\n"
    with pytest.raises(LatexError) as e:
        pdf_build.compile_pdf(bad, tmp_path / "bad.pdf")
    msg = str(e.value)
    assert "Undefined control sequence" in msg and "\\undefinedmacro" in msg and len(msg.splitlines()) < 20


@needs_tex
def test_cli_pdf(tmp_path, capsys):
    assert main(["sheet", "problem3", "-o", str(tmp_path / "s.pdf")]) == 0
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
