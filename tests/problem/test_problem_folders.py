"""Problem folders and files a new instructor gets wrong (issue 20, items 7 and 9): a file nested too
deep is skipped with a warning naming it, a given gradient that takes a name already in use is a
SpecError, a misspelled folder is an error, and a checkout's problems/ beside the installed copy
is not a clash."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from derive.errors import ProblemSpecError
from derive.problem import index
from derive.problem.load import load_file
from derive.problem.index import catalogue_dir
from derive.validate import validate

ROOT = Path(__file__).resolve().parents[2]
CORRECT = "dL/dh3 f3'"                      # problem1 dL/db3


def run(*args, env=None, cwd=None, timeout=180):
    full = {k: v for k, v in os.environ.items() if k != "DERIVE_PROBLEMS"} | {"PYTHONPATH": str(ROOT)}
    full.update(env or {})
    p = subprocess.run([sys.executable, "-m", "derive.cli", *args], capture_output=True, text=True, env=full,
                       timeout=timeout, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("body", ["x = " + "[" * 600 + "]" * 600, "x = " + "{a = " * 600 + "1" + "}" * 600])
def test_a_file_nested_600_deep_is_skipped_naming_it_and_built_ins_still_work(tmp_path, body):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "deep.toml").write_text(body + "\n")
    code, out, err = run("check", "problem1", "dL/db3", CORRECT, "--problems", str(d))
    assert code == 0 and out.splitlines()[1] == "correct", err
    assert f"warning: skipped {d / 'deep.toml'}: not a problem file: its tables or arrays are nested too deep" in err
    assert "Traceback" not in err


def test_validate_names_a_deep_file_instead_of_crashing(tmp_path):
    f = tmp_path / "deep.toml"
    f.write_text("x = " + "[" * 600 + "]" * 600 + "\n")
    code, out, err = run("validate", "--no-tex", str(f))
    assert code == 2 and "nested too deep" in out and "Traceback" not in err


GIVEN = (ROOT / "tests" / "data" / "numerator-given.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("line, message", [
    ('"W" = "y"', "W already names a symbol or node of the problem; a given gradient needs a name of its own, such as dL/dy"),
    ('"x" = "y"', "x already names a symbol or node"),
    ('"dL/dW" = "y"', "dL/dW is the name of the gradient at W, not at y"),
])
def test_a_given_gradient_under_a_name_in_use_is_a_spec_error(tmp_path, line, message):
    f = tmp_path / "g.toml"
    f.write_text(GIVEN.replace('"dL/dy" = "y"', line), encoding="utf-8")
    with pytest.raises(ProblemSpecError, match="key 'given") as e:
        load_file(f)
    assert message in str(e.value)
    code, out, err = run("validate", "--no-tex", str(f))
    assert code == 2 and message in out and "Traceback" not in err


def test_a_misspelled_problems_folder_is_an_error(tmp_path):
    code, out, err = run("list", "--problems", str(tmp_path / "problmes"))
    assert code == 2 and err == f"Error: --problems {tmp_path / 'problmes'}: no such folder (a folder of problem files, *.toml)\n"
    code, out, err = run("check", "problem1", "dL/db3", CORRECT, env={"DERIVE_PROBLEMS": str(tmp_path / "nope")})
    assert code == 2 and f"DERIVE_PROBLEMS={tmp_path / 'nope'}: no such folder" in err


def test_the_same_file_as_a_built_in_is_not_a_clash(tmp_path, monkeypatch):
    installed = tmp_path / "site" / "problems"           # what pip install puts beside the package
    shutil.copytree(catalogue_dir(), installed)
    monkeypatch.setattr(index, "catalogue_dir", lambda: installed)
    import derive.validate as v
    monkeypatch.setattr(v, "catalogue_dir", lambda: installed)
    [rep] = validate([ROOT / "problems" / "scalar-chain.toml"], tex=False, variants=0, mutants="none")
    assert rep.ok, [line.text for line in rep.lines if not line.ok]
    mine = tmp_path / "mine.toml"                        # a changed copy under the same id still clashes
    mine.write_text((ROOT / "problems" / "scalar-chain.toml").read_text(encoding="utf-8") + "\n# mine\n")
    [rep] = validate([mine], tex=False, variants=0, mutants="none")
    assert not rep.ok and "id 'scalar-chain' is already used by the built-in scalar-chain.toml" in rep.lines[-1].text


@pytest.mark.slow
def test_validate_problems_passes_after_pip_install_from_a_clean_checkout(tmp_path):
    """The README's command, against a real non-editable install of this checkout."""
    wheel = tmp_path / "wheel"
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                        str(wheel), str(ROOT)], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {p.stderr[-300:]}")
    site = tmp_path / "site"
    [whl] = wheel.glob("*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(whl)],
                   check=True, timeout=300)
    env = {"PYTHONPATH": str(site)}
    code, out, err = run("validate", "--quiet", "--no-tex", "--variants", "0", "--mutants", "none",
                         str(ROOT / "problems"), env=env, cwd=tmp_path)
    n = len(list((ROOT / "problems").glob("*.toml")))
    assert code == 0 and out.splitlines()[-1].startswith(f"{n} files, ") and ", 0 failed (" in out, out + err
    code, out, err = run("docs", env=env, cwd=tmp_path)          # the docs the messages point to, installed
    assert code == 0 and out.startswith("# Writing problem files")
    code, out, err = run("docs", "--path", env=env, cwd=tmp_path)
    assert out.strip() == str(site / "derive" / "docs" / "problems.md")
