"""Authoring: `derive validate`, the schema in docs/problems.md, and user folders of problems.

The catalogue test is the CI guard: every built-in problem parses, solves, verifies, and every
[[answers]] sample gets the verdict recorded for it.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from derive import ProblemSpecError, catalogue, load
from derive.cli import main
from derive.problem.index import catalogue_dir, library_dir
from derive.validate import validate, validate_file

DOCS = Path(__file__).resolve().parent.parent / "docs" / "problems.md"


def run(*args, env=None, cwd=None):
    full_env = {k: v for k, v in os.environ.items() if k != "DERIVE_PROBLEMS"}
    full_env.update(env or {})
    p = subprocess.run([sys.executable, "-m", "derive.cli", *args], capture_output=True, text=True,
                       timeout=300, env=full_env, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def failures(report) -> str:
    return "\n".join(f"{report.path}: {line.text}" for line in report.lines if not line.ok)


def worked_example() -> str:
    """The ```toml block after <!-- worked-example --> in docs/problems.md."""
    m = re.search(r"<!-- worked-example -->\s*```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert m, "docs/problems.md has no worked example block"
    return m.group(1)


def documented_output() -> list[str]:
    """The check lines of the documented `derive validate` run on the worked example."""
    m = re.search(r"<!-- worked-example-output -->\s*```text\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert m, "docs/problems.md has no output block for the worked example"
    return [line.strip()[4:].strip() for line in m.group(1).splitlines() if line.startswith("  ok")
            or line.startswith("  FAIL")]


@pytest.fixture
def example(tmp_path):
    d = tmp_path / "my-problems"
    d.mkdir()
    f = d / "softplus-ridge.toml"
    f.write_text(worked_example(), encoding="utf-8")
    return f


def variant(example, name, old, new):
    """A copy of the worked example with one mistake, in a folder of its own."""
    text = example.read_text(encoding="utf-8")
    assert old in text, old
    d = example.parent.parent / "variants"
    d.mkdir(exist_ok=True)
    f = d / name
    f.write_text(text.replace(old, new, 1), encoding="utf-8")
    return f


# ---- (a) the catalogue guard ------------------------------------------------------------------
BUILTIN = sorted(catalogue_dir().glob("*.toml"))


@pytest.mark.parametrize("path", BUILTIN, ids=[p.stem for p in BUILTIN])
def test_every_builtin_problem_validates(path):
    report = validate_file(path, mutants="none")          # tests/grading/test_mutants.py grades the mutants
    assert report.ok, failures(report)
    texts = [line.text for line in report.lines]
    assert texts[0].startswith("parses: ") and texts[1].startswith("solves and verifies: ")
    varies = load_problem(path).variants is not None         # then a line for the drawn variants
    if varies:
        assert texts[2].startswith("variants: 20 seeds (")
    assert len(texts) == 2 + varies + len(load_problem(path).samples)      # one line per sample answer


def load_problem(path):
    from derive.problem.load import load_file
    return load_file(path)


@pytest.mark.slow
def test_catalogue_validates_through_the_library_and_the_command_line(capsys):
    reports = validate(BUILTIN, mutants="none")
    assert len(reports) == len(catalogue()) - len(list(library_dir().glob("*.toml"))) >= 17   # the seeds
    assert all(r.ok for r in reports), "\n".join(failures(r) for r in reports if not r.ok)
    assert sum(len(load_problem(p).samples) for p in BUILTIN) > 0
    assert main(["validate", "--quiet", "--mutants", "none", str(catalogue_dir())]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert re.search(rf"^{len(BUILTIN)} files, \d+ checks, 0 failed", out, re.M), out


# ---- (b) the documented worked example ----------------------------------------------------------
def test_worked_example_in_the_docs_validates(example):
    report = validate_file(example)
    assert report.ok, failures(report)
    samples = load_problem(example).samples
    assert len(samples) >= 6
    assert {"correct", "incorrect", "invalid"} <= {s.verdict for s in samples}
    assert len({q.kind for q in load(example).quantities}) >= 3
    # the output pasted in the docs is what validate really prints (timings and error figures aside)
    figure = re.compile(r"\d\.\de-\d+")
    assert [figure.sub("E", line.text) for line in report.lines] == [figure.sub("E", t) for t in documented_output()]


def test_worked_example_is_new_not_a_copy_of_a_builtin(example):
    mine = load(example)
    assert all(mine.id != p.id and mine.alias != p.alias for p in catalogue())
    assert all([e.text for e in mine.equations] != [e.text for e in p.equations] for p in catalogue())


def test_validate_command_on_the_worked_example_exits_0(example):
    code, out, err = run("validate", str(example))
    assert code == 0, out + err
    assert "FAIL" not in out and re.search(r"^1 file, \d+ checks, 0 failed", out, re.M)


# ---- (c) schema errors name the file, the key and the position -----------------------------------
@pytest.mark.parametrize("name, old, new, key, position, message", [
    ("unknown-key.toml", 'output = "L"', 'outptu = "L"', "'outptu'", None, "unknown key; known: alias"),
    ("quantity-key.toml", 'name = "dL/db1"', 'name = "dL/db1"\nallow = ["delta1"]', "'quantities[6]'", None,
     "unknown key(s) allow"),
    ("answer-key.toml", 'verdict = "incorrect"', 'verdict = "incorrect"\ngrade = 0', "'answers[1]'", None,
     "unknown key 'grade'"),
    ("bad-verdict.toml", 'verdict = "incorrect"', 'verdict = "wrong"', "'answers[1].verdict'", None,
     "verdict 'wrong' is not one of correct, incorrect, invalid, undecided"),
    ("bad-toml.toml", 'dims = ["d", "m"]', 'dims = ["d", "m"', None, r"line \d+, column \d+", "not valid TOML"),
    ("bad-expression.toml", '"a1 = softplus(z1)"', '"a1 = softplus(z1))"', "'forward[1]'", "column 18",
     "a closing ')' has no matching '('"),
    ("bad-layout.toml", 'layout = "shape"', 'layout = "denominator"', "'conventions.layout'", None,
     "'denominator' is not one of shape, numerator"),
    ("missing-title.toml", 'title = ', 'headline = ', "'title'", None, "missing required key"),
])
def test_schema_errors_name_file_key_and_position(example, capsys, name, old, new, key, position, message):
    f = variant(example, name, old, new)
    report = validate_file(f)
    assert not report.ok
    bad = [line.text for line in report.lines if not line.ok]
    hit = [t for t in bad if message in t]
    assert hit, bad
    text = hit[0]
    assert text.startswith(f"schema: {f}")
    if key:
        assert f"key {key}" in text
    if position:
        assert re.search(position, text), text
    # schema errors stop before solving
    assert not any(t.startswith(("parses", "solves")) for t in (line.text for line in report.lines))
    assert main(["validate", str(f)]) == 2
    out = capsys.readouterr().out
    assert f"FAIL  schema: {f}" in out and re.search(r"^1 file, \d+ checks, [1-9]\d* failed", out, re.M)


def test_schema_error_on_the_command_line_is_one_line_not_a_traceback(example):
    f = variant(example, "bad-verdict.toml", 'verdict = "incorrect"', 'verdict = "wrong"')
    code, out, err = run("validate", str(f))
    assert code == 2 and "Traceback" not in out + err
    assert f"{f}, key 'answers[1].verdict': verdict 'wrong'" in out


def test_missing_file_and_empty_folder_fail(tmp_path):
    report = validate_file(tmp_path / "nope.toml")
    assert not report.ok and "cannot read" in report.lines[0].text
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "empty")]) == 2


# ---- (d) a user file may not reuse a built-in id or alias -----------------------------------------
@pytest.mark.parametrize("old, new, key, message", [
    ('id = "softplus-ridge"', 'id = "scalar-chain"', "id", "id 'scalar-chain' is already used by the built-in"),
    ('alias = "hw3-q1"', 'alias = "problem1"', "alias", "alias 'problem1' is already used by the built-in"),
    ('id = "softplus-ridge"', 'id = "problem6"', "id", "id 'problem6' is already used by the built-in"),
])
def test_reusing_a_builtin_id_or_alias_is_an_error(example, old, new, key, message):
    f = variant(example, "clash.toml", old, new)
    report = validate_file(f)
    assert not report.ok
    assert any(f"key '{key}'" in line.text and message in line.text for line in report.lines), report.lines
    assert main(["validate", "-q", str(f)]) == 2
    with pytest.raises(ProblemSpecError, match="already used by") as err:
        catalogue(f.parent)
    assert err.value.key == key and str(f) in str(err.value)


def test_a_clash_stops_every_command_with_exit_2(example):
    f = variant(example, "clash.toml", 'alias = "hw3-q1"', 'alias = "problem1"')
    code, out, err = run("solve", "problem1", "--problems", str(f.parent))
    assert code == 2 and err.startswith("Error: ") and "alias 'problem1' is already used by" in err
    assert "Traceback" not in err


def test_two_user_files_with_one_id_clash(example):
    other = example.parent / "copy.toml"
    other.write_text(example.read_text(encoding="utf-8").replace('alias = "hw3-q1"', 'alias = "hw3-q1b"'))
    with pytest.raises(ProblemSpecError, match="id 'softplus-ridge' is already used by"):
        catalogue(example.parent)


# ---- (e) a recorded verdict that the checker does not give fails validation -------------------------
def test_wrong_recorded_verdict_fails(example, capsys):
    f = variant(example, "recorded.toml", 'answer = "delta1 x^T"\nverdict = "incorrect"',
                'answer = "delta1 x^T"\nverdict = "correct"')
    report = validate_file(f)
    assert not report.ok
    [bad] = [line.text for line in report.lines if not line.ok]
    assert bad.startswith("answers[10] dL/dW1 = 'delta1 x^T': incorrect [missing_term], expected correct")
    assert "feedback: a term is missing" in bad
    # the stages before it passed: only the sample is wrong
    assert report.lines[0].ok and report.lines[1].ok
    assert main(["validate", "--quiet", str(f)]) == 2
    out = capsys.readouterr().out
    assert "FAIL  answers[10]" in out and "  ok  " not in out


def test_a_sample_for_a_quantity_the_problem_does_not_ask_fails(example):
    f = variant(example, "unknown-quantity.toml", 'quantity = "dL/db1"', 'quantity = "dL/db9"')
    report = validate_file(f)
    assert not report.ok
    assert any("unknown quantity 'dL/db9'" in line.text for line in report.lines if not line.ok)


# ---- (f) user folders: --problems DIR and DERIVE_PROBLEMS ------------------------------------------
def test_problems_flag_makes_a_user_problem_solvable_and_checkable(example, capsys):
    d = str(example.parent)
    assert main(["solve", "softplus-ridge", "--problems", d, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["alias"] == "hw3-q1" and all(q["verified"] for q in data["quantities"])
    assert main(["--problems", d, "solve", "hw3-q1", "--quantity", "dL/dW1"]) == 0
    assert "verified" in capsys.readouterr().out
    assert main(["check", "hw3-q1", "dL/dW1", "delta1 x^T + 2 lambda W1", "--problems", d]) == 0
    assert capsys.readouterr().out.splitlines()[-2] == "correct"
    assert main(["--problems", d, "check", "softplus-ridge", "dL/dW1", "delta1 x^T", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["diagnosis"] == ["missing_term"]
    assert main(["--problems", d, "list", "--json"]) == 0
    assert "softplus-ridge" in {r["id"] for r in json.loads(capsys.readouterr().out)}


def test_without_the_folder_the_user_problem_is_unknown(example):
    code, out, err = run("solve", "softplus-ridge")
    assert code == 2 and "unknown problem 'softplus-ridge'" in err


def test_environment_variable_makes_a_user_problem_solvable_and_checkable(example):
    env = {"DERIVE_PROBLEMS": str(example.parent)}
    code, out, err = run("solve", "hw3-q1", "--quantity", "dL/dw2", env=env)
    assert code == 0, err
    assert "dL/dw2 = delta2*a1^T" in out and "verified" in out
    code, out, err = run("check", "softplus-ridge", "dL/dw2", "2 (y - yhat) a1^T", env=env)
    assert code == 1 and "incorrect [sign]" in out, out + err
    code, out, err = run("check", "softplus-ridge", "dL/dw2", "-2 (y - yhat) a1^T", env=env)
    assert code == 0 and "correct" in out, out + err


def test_flag_and_environment_naming_the_same_folder_read_it_once(example):
    d = str(example.parent)
    code, out, err = run("--problems", d, "list", env={"DERIVE_PROBLEMS": d})
    assert code == 0, err
    assert out.count("softplus-ridge") == 1


def test_flag_and_environment_can_name_two_folders(example, tmp_path):
    other = tmp_path / "more"
    other.mkdir()
    (other / "tiny.toml").write_text('id = "tiny"\ntitle = "Tiny"\nforward = ["h = softplus(w*x)"]\n'
                                     'quantities = ["dh/dw"]\n[symbols]\nx = "scalar"\nw = "scalar"\n')
    code, out, err = run("check", "tiny", "dh/dw", "sigma(w x) x", "--problems", str(other),
                         env={"DERIVE_PROBLEMS": str(example.parent)})
    assert code == 0, out + err
    code, out, err = run("--problems", str(other), "list", "--json", env={"DERIVE_PROBLEMS": str(example.parent)})
    assert {"tiny", "softplus-ridge"} <= {r["id"] for r in json.loads(out)}


def test_a_user_alias_that_looks_like_problemN_but_is_not_numbered_sorts_last(example):
    f = variant(example, "odd-alias.toml", 'alias = "hw3-q1"', 'alias = "problem-extra"')
    ids = [p.id for p in catalogue(f.parent)]
    assert ids[0] == "scalar-chain" and ids[-1] == "softplus-ridge"


HUGE = '''id = "huge-sizes"
title = "Sizes no machine has memory for"
dims = ["n"]
forward = ["h = W*x"]
output = "L"
quantities = ["dL/dW"]
[symbols]
x = ["n*n*n*n*n*n*n*n*n*n", 1]
W = ["n*n*n*n*n*n*n*n*n*n", "n*n*n*n*n*n*n*n*n*n"]
[given]
"dL/dh" = "h"
'''


def test_a_file_that_runs_out_of_memory_fails_alone_and_the_folder_goes_on(example):
    """The first such file ended the whole run with one line naming no file."""
    (example.parent / "a-huge.toml").write_text(HUGE, encoding="utf-8")
    code, out, err = run("validate", str(example.parent), "--mutants", "none")
    assert code == 2 and "Traceback" not in err, err
    assert f"{example.parent / 'a-huge.toml'}" in out and "FAIL  solve: out of memory" in out
    assert f"{example}" in out and re.search(r"^2 files, \d+ checks, 1 failed", out, re.M), out
