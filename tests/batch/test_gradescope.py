"""Answer files (derive template), Gradescope results.json, and the autograder bundle run end to end
against a temporary directory standing in for /autograder."""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from derive import Checker
from derive.batch import answer_file as submission
from derive.batch import run as grade
from derive.cli import main
from derive.problem.load import load

ROOT = Path(__file__).resolve().parents[2]
# drho/dW1 = delta2 x^T, delta3 = sigma'(Z2) ⊙ W3^T delta4 (seed 003, Problem 1(a)); z = 0.62, not the
# seed's printed 0 (seed 004, T1)
FILLED = {("two-hidden-deltas", "delta4"): "2(f - y)",
          ("two-hidden-deltas", "drho/dW1"): "x delta2^T",
          ("two-hidden-deltas", "delta3"): r"\sigma'(Z^2) \odot (W^3)^T \delta^4",
          ("residual-relu", "z"): "0.62",
          ("residual-relu", "u1"): "-0.8"}
VERDICT = {("two-hidden-deltas", "delta4"): "passed", ("two-hidden-deltas", "drho/dW1"): "failed",
           ("two-hidden-deltas", "delta3"): "passed", ("residual-relu", "z"): "passed",
           ("residual-relu", "u1"): "failed"}
POINTS = {("two-hidden-deltas", "delta4"): 3, ("two-hidden-deltas", "drho/dW1"): 2,      # its [points]
          ("two-hidden-deltas", "delta3"): 4, ("residual-relu", "z"): 1, ("residual-relu", "u1"): 1}


@pytest.fixture(scope="module")
def checker():
    """One warm Checker for the in-process runs of this module (each problem derived once)."""
    with Checker(workers=1) as c:
        yield c


def fill(template: str, answers: dict) -> str:
    """Type answers into a template the way a student does: after the colon of each line."""
    out, problem = [], ""
    for line in template.splitlines():
        m = re.fullmatch(r"\[(.+)\]", line)
        problem = m.group(1) if m else problem
        name = line.split(":")[0]
        if not line.startswith("#") and (problem, name) in answers:
            line = f"{name}: {answers[problem, name]}"
        out.append(line)
    return "\n".join(out) + "\n"


def test_template_lists_every_graded_question_with_the_statement(capsys):
    assert main(["template", "residual-relu", "problem6"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    for pid in ("residual-relu", "two-hidden-deltas"):
        p = load(pid)
        assert f"[{pid}]" in lines
        for q in p.quantities:
            assert f"{q.name}: " in lines
        first = p.statement.strip().splitlines()[0]
        assert any(line.startswith("# ") and first[:40] in line for line in lines)
    assert all(line.startswith("#") or not line or re.fullmatch(r"\[.+\]|[^:#]+: ", line) for line in lines)


def test_template_reads_back_empty_answers_as_invalid_rows(tmp_path):
    text = submission.template([load("problem6")])
    rows = submission.read(text)
    assert [(r.problem, r.quantity, r.answer) for r in rows] == \
        [("two-hidden-deltas", q.name, "") for q in load("problem6").quantities]


def test_reading_lines_a_student_mangled():
    rows = submission.read("delta4: 2(f-y)\n[two-hidden-deltas]\n# note\nno colon here\ndelta3:  x : y \n")
    assert rows[0].error.startswith("line 1: no [problem] line above this answer")
    assert rows[1].error.startswith("line 4 is not `QUANTITY: ANSWER`")
    assert (rows[2].problem, rows[2].quantity, rows[2].answer, rows[2].error) == \
        ("two-hidden-deltas", "delta3", "x : y", "")


def test_filled_template_graded_with_gradescope_results(tmp_path, checker):
    text = fill(submission.template([load("two-hidden-deltas"), load("residual-relu")]), FILLED)
    sub = tmp_path / "ada.txt"
    sub.write_text(text, encoding="utf-8")
    out = grade.grade_file(sub, tmp_path / "report.csv", gradescope_out=tmp_path / "results.json", checker=checker)
    assert out.written["gradescope"] == tmp_path / "results.json"
    res = json.loads((tmp_path / "results.json").read_text())
    tests = {t["name"]: t for t in res["tests"]}
    n_questions = len(load("two-hidden-deltas").quantities) + len(load("residual-relu").quantities)
    assert len(res["tests"]) == n_questions            # unanswered lines are there too, as invalid
    for (pid, q), status in VERDICT.items():
        t = tests[f"{pid}: {q}"]
        points = POINTS[pid, q]
        assert t["status"] == status and t["max_score"] == points and t["score"] == points * (status == "passed")
        assert t["output_format"] == "text" and t["visibility"] == "visible"
    assert "transpose" in tests["two-hidden-deltas: drho/dW1"]["output"]
    assert "the answer is empty" in tests["two-hidden-deltas: drho/db1"]["output"]
    assert tests["two-hidden-deltas: drho/db1"]["max_score"] == 1 and tests["two-hidden-deltas: drho/dW3"]["max_score"] == 2
    assert res["score"] == 3 + 4 + 1 and res["output"].startswith("3 of ")
    report = (tmp_path / "report.csv").read_text()
    assert report.splitlines()[1].startswith("ada,two-hidden-deltas,delta4,2(f - y),correct,3,")


def test_gradescope_refuses_a_file_of_several_students(tmp_path, capsys):
    src = tmp_path / "class.csv"
    src.write_text("student,problem,quantity,answer\nann,problem1,dL/db3,dL/dh3 f3'\nbob,problem1,dL/db3,0\n")
    assert main(["grade", str(src), "--gradescope", str(tmp_path / "results.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: --gradescope writes one student's results, but ") and "'ann', 'bob'" in err
    assert not (tmp_path / "results.json").exists()


def test_student_name_from_option_or_file_name(tmp_path, checker):
    sub = tmp_path / "jo.txt"
    sub.write_text("[problem1]\ndL/db3: dL/dh3 f3'\n")
    grade.grade_file(sub, tmp_path / "a.csv", checker=checker)
    grade.grade_file(sub, tmp_path / "b.csv", student="Jo Park", checker=checker)
    assert (tmp_path / "a.csv").read_text().splitlines()[1].startswith("jo,problem1,dL/db3,")
    assert (tmp_path / "b.csv").read_text().splitlines()[1].startswith("Jo Park,problem1,dL/db3,")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    d = tmp_path_factory.mktemp("bundle")
    assert main(["autograder", "two-hidden-deltas", "residual-relu", "-o", str(d / "autograder.zip")]) == 0
    return d / "autograder.zip"


def test_bundle_has_what_gradescope_expects(bundle):
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "autograder.json", "answers.txt"} <= names
        for script in ("setup.sh", "run_autograder"):
            assert stat.S_IMODE(z.getinfo(script).external_attr >> 16) & 0o111
            assert z.read(script).startswith(b"#!/usr/bin/env bash\n")
        [wheel] = [n for n in names if n.endswith(".whl")]
        config = json.loads(z.read("autograder.json"))
    assert config["problems"] == ["two-hidden-deltas", "residual-relu"]
    assert len(config["questions"]) == 9 + 12
    for script in ("setup.sh", "run_autograder"):
        with zipfile.ZipFile(bundle) as z:
            assert subprocess.run(["bash", "-n"], input=z.read(script), capture_output=True).returncode == 0


def test_unpacked_bundle_grades_a_submission(bundle, tmp_path):
    """Gradescope's layout in a temporary root: the wheel installed (pip, no network), the filled-in
    template as the submission, run_autograder run as Gradescope runs it."""
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(bundle) as z:
        z.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    os.chmod(root / "run_autograder", 0o755)
    [wheel] = (root / "source").glob("derive-*.whl")
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                          "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=120)
    assert pip.returncode == 0, pip.stderr
    assert (site / "derive" / "problems" / "two-hidden-deltas.toml").is_file()
    assert (site / "derive" / "templates" / "summary.html.j2").is_file()
    (root / "submission").mkdir()
    template = (root / "source" / "answers.txt").read_text(encoding="utf-8")
    answers = {k: v for k, v in FILLED.items() if k != ("residual-relu", "u1")}       # one left out
    (root / "submission" / "answers.txt").write_text(fill(template, answers).replace("\nu1: \n", "\n"))
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), DERIVE_PYTHON=sys.executable, PYTHONPATH=str(site))
    p = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                       timeout=180)
    assert p.returncode == 0, p.stderr
    res = json.loads((root / "results" / "results.json").read_text())
    tests = {t["name"]: t for t in res["tests"]}
    assert len(res["tests"]) == 21
    for (pid, q), status in VERDICT.items():
        assert tests[f"{pid}: {q}"]["status"] == status
    assert tests["residual-relu: u1"]["output"] == "no answer given"
    assert res["score"] == 3 + 4 + 1 and set(tests["residual-relu: z"]) == \
        {"name", "score", "max_score", "status", "output", "output_format", "visibility"}
    # the grading ran the installed wheel, not this source tree
    where = subprocess.run([sys.executable, "-c", "import derive; print(derive.__file__)"], env=env, cwd=root,
                           capture_output=True, text=True).stdout
    assert where.startswith(str(site))


def test_autograder_run_with_no_usable_upload(bundle, tmp_path):
    root = tmp_path / "ag"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(bundle) as z:
        z.extractall(root / "source")
    (root / "submission").mkdir()
    (root / "submission" / "a.pdf").write_bytes(b"%PDF-1.4")
    (root / "submission" / "b.png").write_bytes(b"\x89PNG")
    assert main(["autograder", "--run", str(root)]) == 0
    res = json.loads((root / "results" / "results.json").read_text())
    assert res["score"] == 0 and res["output"].startswith("no answer file found in the submission (a.pdf, b.png)")
    assert len(res["tests"]) == 21 and all(t["status"] == "failed" for t in res["tests"])


def test_autograder_needs_problems_and_an_output(tmp_path, capsys):
    assert main(["autograder", "two-hidden-deltas"]) == 2
    assert "-o autograder.zip" in capsys.readouterr().err
    assert main(["autograder", "problem99", "-o", str(tmp_path / "a.zip")]) == 2
    assert "unknown problem 'problem99'" in capsys.readouterr().err and not (tmp_path / "a.zip").exists()


def test_bundle_carries_problems_that_are_not_built_in(tmp_path):
    """The worked example of docs/problems.md as a course's own problem, from --problems DIR."""
    docs = (ROOT / "docs" / "problems.md").read_text(encoding="utf-8")
    toml = re.search(r"<!-- worked-example -->\s*```toml\n(.*?)```", docs, re.S).group(1)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "softplus-ridge.toml").write_text(toml, encoding="utf-8")
    assert main(["autograder", "softplus-ridge", "-o", str(tmp_path / "ag.zip"), "--problems", str(mine)]) == 0
    root = tmp_path / "root"
    with zipfile.ZipFile(tmp_path / "ag.zip") as z:
        assert "problems/softplus-ridge.toml" in z.namelist()
        assert not [n for n in z.namelist() if n.startswith("problems/") and n != "problems/softplus-ridge.toml"]
        z.extractall(root / "source")
    p = load(mine / "softplus-ridge.toml")
    right = {("softplus-ridge", s.quantity): s.answer for s in p.samples if s.verdict == "correct"}
    (root / "submission").mkdir()
    template = (root / "source" / "answers.txt").read_text(encoding="utf-8")
    (root / "submission" / "answers.txt").write_text(fill(template, right), encoding="utf-8")
    assert main(["autograder", "--run", str(root)]) == 0
    res = json.loads((root / "results" / "results.json").read_text())
    passed = {t["name"] for t in res["tests"] if t["status"] == "passed"}
    assert passed == {f"softplus-ridge: {q}" for _, q in right}
