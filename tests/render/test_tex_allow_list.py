"""A problem file cannot put a file into a PDF (issue 20, item 2): its LaTeX reaches TeX only through
an allow-list of text and math commands, and TeX itself runs with reads confined and a clean
environment. The attack of the issue (\\pdfobj file, which openin_any does not govern) gave exit 0 and
a PDF holding /etc/passwd."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from derive.errors import RenderError
from derive.problem.load import catalogue
from derive.problem.index import catalogue_dir
from derive.render import pdf as pdf_build
from derive.render.allowed_tex import allowed_tex

ROOT = Path(__file__).resolve().parents[2]
needs_tex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
ATTACK = r"\immediate\pdfobj file {/etc/passwd}\pdfrefobj\pdflastobj "
DOC = "\\documentclass{article}\n\\begin{document}\n%s\n\\end{document}\n"


def problem_with(tmp_path, old, new):
    text = (catalogue_dir() / "scalar-chain.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^alias = .*\n', "", text).replace('id = "scalar-chain"', 'id = "leak"', 1)
    assert old in text
    f = tmp_path / "leak.toml"
    f.write_text(text.replace(old, new, 1), encoding="utf-8")
    return f


def run(*args):
    env = {k: v for k, v in os.environ.items() if k != "DERIVE_PROBLEMS"} | {"PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "derive.cli", *args], capture_output=True, text=True, env=env,
                       timeout=180)
    return p.returncode, p.stdout, p.stderr


def test_the_pdfobj_attack_of_the_issue_is_refused_naming_the_command(tmp_path):
    f = problem_with(tmp_path, "$x, w_1", ATTACK + "$x, w_1")
    code, out, err = run("sheet", str(f), "-o", str(tmp_path / "leak.pdf"))
    assert code == 2 and "Traceback" not in err, err
    assert err.startswith(f"Error: leak ({f}), statement: \\immediate is not allowed"), err
    assert not (tmp_path / "leak.pdf").exists()


def test_a_model_answer_is_held_to_the_same_list(tmp_path):
    text = (catalogue_dir() / "sgd-concepts.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^alias = .*\n', "", text).replace('id = "sgd-concepts"', 'id = "leak"', 1)
    text = re.sub(r"(?m)^model_answer = '''", lambda m: m[0] + r"\pdffiledump offset 0 length 99 {/etc/passwd} ",
                  text, count=1)
    f = tmp_path / "leak.toml"
    f.write_text(text, encoding="utf-8")
    code, out, err = run("sheet", str(f))
    assert code == 2 and "model_answer: \\pdffiledump is not allowed" in err, err


@pytest.mark.parametrize("payload, named", [
    (r"\pdfobj file {/etc/passwd}", r"\pdfobj"),
    (r"\input{/etc/passwd}", r"\input"),
    (r"\openin1=/etc/passwd", r"\openin"),
    (r"\immediate\write18{id}", r"\immediate"),
    (r"\includegraphics{/etc/passwd}", r"\includegraphics"),
    (r"\csname input\endcsname{/etc/passwd}", r"\csname"),
    (r"\catcode`\Q=0 Qinput{/etc/passwd}", r"\catcode"),
    (r"^^5cinput{/etc/passwd}", "^^"),
    (r"\begin{filecontents}{x.tex}", r"\begin{filecontents}"),
    (r"\def\a{\a}\a", r"\def"),
    (r"\directlua{os.execute('id')}", r"\directlua"),
    (r"\special{pdf: x}", r"\special"),
    (r"$x$ \@", r"\@"),
])
def test_anything_off_the_list_is_an_error_naming_it(payload, named):
    with pytest.raises(RenderError) as e:
        allowed_tex(f"Compute $x$. {payload}", "mine (mine.toml), statement")
    assert str(e.value).startswith(f"mine (mine.toml), statement: {named}"), str(e.value)


def test_every_statement_and_model_answer_of_the_catalogue_is_on_the_list():
    for p in catalogue():
        allowed_tex(p.statement, p.id)
        for q in p.quantities:
            if q.kind.sheet_layout == "model":
                allowed_tex(q.model_answer, p.id)


@needs_tex
def test_tex_reads_nothing_through_the_callers_search_paths(tmp_path, monkeypatch):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.tex").write_text("SECRETKEY\n")
    monkeypatch.setenv("TEXINPUTS", f"{secret}//:")
    monkeypatch.setenv("TEXMFCNF", str(secret))
    monkeypatch.setenv("openin_any", "a")
    assert not {k for k in pdf_build.tex_env() if k.startswith("TEX")}
    assert pdf_build.tex_env()["openin_any"] == "p" and pdf_build.tex_env()["shell_escape"] == "f"
    with pytest.raises(RenderError, match="key.tex"):
        pdf_build.compile_pdf(DOC % r"\input{key.tex}", tmp_path / "a.pdf")
