"""Rosters (issue 20, item 6): names in any script typeset, and a roster that is not what it should
be is a clear error, never a traceback or a hang."""
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from derive.render import fonts
from derive.render.roster import render_roster

ROOT = Path(__file__).resolve().parents[2]
NAMES = {"s1": "Ζωή Παπαδοπούλου", "s2": "王小明", "s3": "محمد", "s4": "Ann 😀", "s5": "José Øyvind"}
needs_lualatex = pytest.mark.skipif(shutil.which("lualatex") is None or shutil.which("pdftotext") is None,
                                    reason="lualatex (texlive-luatex) or pdftotext is not installed")


def roster(tmp_path, rows, name="roster.csv", raw=None):
    f = tmp_path / name
    if raw is not None:
        f.write_bytes(raw)
    else:
        f.write_text("id,name\n" + "".join(f"{i},{n}\n" for i, n in rows.items()), encoding="utf-8")
    return f


def run(*args, timeout=240):
    env = {k: v for k, v in os.environ.items() if k != "DERIVE_PROBLEMS"} | {"PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "derive.cli", *args], capture_output=True, text=True, env=env,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.slow
@needs_lualatex
def test_names_in_greek_cjk_arabic_and_with_an_emoji_typeset(tmp_path):
    f = roster(tmp_path, NAMES)
    code, out, err = run("sheet", "problem1", "--roster", str(f), "--questions", "-o", str(tmp_path / "r.pdf"))
    assert code == 0, err
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True).stdout
    for name in ("Ζωή Παπαδοπούλου", "王小明", "José Øyvind"):
        assert name in text, name


def test_the_sheet_source_names_every_student_as_written(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fonts.FontWarning)
        tex = render_roster(["problem1"], roster(tmp_path, NAMES))
    for name in NAMES.values():
        if fonts.unicode_engine() and all(fonts._families(c) for c in name if fonts.needs_unicode(c)):
            assert name in tex
    assert ("\\usepackage{fontspec}" in tex) == fonts.unicode_engine()


def test_latin_names_keep_the_pdflatex_sheet(tmp_path):
    tex = render_roster(["problem1"], roster(tmp_path, {"s1": "José Øyvind", "s2": "Zoë Ångström"}))
    assert "\\usepackage{fontspec}" not in tex and "\\usepackage{lmodern}" in tex


def test_without_a_unicode_engine_letters_are_printed_as_codes_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(fonts, "unicode_engine", lambda: False)
    with pytest.warns(fonts.FontWarning, match="lualatex is not installed"):
        tex = render_roster(["problem1"], roster(tmp_path, {"s1": "王小明", "s2": "Ann"}))
    assert "[U+738B][U+5C0F][U+660E]" in tex and "王" not in tex
    assert "\\usepackage{fontspec}" not in tex


@pytest.mark.parametrize("raw, message", [
    ("id,name\ns1,Jos\xe9\n".encode("latin-1"), "is not UTF-8 text (byte 0xE9 at line 2)"),
    ("id,name,seed\ns1,Ann,²\n".encode(), "seed '²' is not a non-negative integer of at most 18 digits"),
    (("id,name,seed\ns1,Ann," + "9" * 5000 + "\n").encode(), "is not a non-negative integer of at most 18 digits"),
    ("id,name\ns1,Alice\u2028Mallory\n".encode(), "holds U+2028, a line break or control character"),
])
def test_a_bad_roster_is_a_clear_error(tmp_path, raw, message):
    f = roster(tmp_path, {}, raw=raw)
    code, out, err = run("sheet", "problem1", "--roster", str(f), timeout=60)
    assert code == 2 and "Traceback" not in err and message in err, err
    assert "Mallory" not in out


def test_a_fifo_as_roster_is_refused_without_hanging(tmp_path):
    f = tmp_path / "roster.csv"
    os.mkfifo(f)
    code, out, err = run("sheet", "problem1", "--roster", str(f), timeout=60)
    assert code == 2 and "is not a regular file" in err, err
