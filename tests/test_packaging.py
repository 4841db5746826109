"""The installed distribution (non-editable `pip install .`) carries its catalogue and templates."""
import importlib.metadata as md
import json
import shutil
import subprocess
from pathlib import Path

import pytest


def installed_files():
    # the installed wheel has a RECORD; a source tree's derive.egg-info (left by the build) has none
    dists = [d for d in md.distributions() if d.metadata["Name"] == "derive" and d.read_text("RECORD")]
    if not dists:
        pytest.skip("derive is not installed (run the README's install command)")
    files = [str(f) for f in dists[0].files]
    if any(f.endswith(".pth") for f in files):
        pytest.skip("derive is installed in editable mode")
    return files


def test_wheel_ships_problems_and_templates():
    files = installed_files()
    repo = Path(__file__).resolve().parent.parent
    for toml in (repo / "problems").glob("*.toml"):
        assert f"derive/problems/{toml.name}" in files
    for tpl in (repo / "templates").iterdir():
        if tpl.suffix in (".tex", ".j2", ".sty"):
            assert f"derive/templates/{tpl.name}" in files


def test_console_script_works_from_another_directory(tmp_path):
    installed_files()
    exe = shutil.which("derive")
    if exe is None:
        pytest.skip("no derive console script on PATH")
    out = subprocess.run([exe, "list", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert {"problem1", "problem6"} <= {p["alias"] for p in json.loads(out.stdout)}
    out = subprocess.run([exe, "solve", "problem1"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "verified" in out.stdout


def test_wheel_ships_the_web_page_and_its_vendored_libraries():
    files = installed_files()
    static = Path(__file__).resolve().parent.parent / "derive" / "serve" / "static"
    shipped = [f.relative_to(static.parent.parent.parent).as_posix() for f in static.rglob("*") if f.is_file()]
    assert "derive/serve/static/vendor/katex/katex.min.js" in shipped
    assert [f for f in shipped if f not in files] == []


def test_installed_serve_command_serves_the_vendored_files(tmp_path):
    import re
    import urllib.request
    installed_files()
    import sys
    beside = Path(sys.executable).parent / "derive"       # this interpreter's own console script
    exe = str(beside) if beside.is_file() else shutil.which("derive")
    if exe is None:
        pytest.skip("no derive console script on PATH")
    pytest.importorskip("uvicorn", reason="the serve extra is not installed")
    proc = subprocess.Popen([exe, "serve", "--port", "0", "--workers", "1", "--log-level", "warning"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", proc.stdout.readline())
        assert m, proc.stderr.read() if proc.poll() is not None else "no address printed"
        for path in ("/", "/static/app.js", "/static/vendor/katex/katex.min.js",
                     "/static/vendor/katex/fonts/KaTeX_Math-Italic.woff2", "/static/vendor/mathlive/mathlive.min.js"):
            with urllib.request.urlopen(f"http://127.0.0.1:{m[1]}{path}", timeout=30) as r:
                assert r.status == 200 and len(r.read()) > 500, path
    finally:
        proc.terminate()
        proc.wait(20)
