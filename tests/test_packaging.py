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
