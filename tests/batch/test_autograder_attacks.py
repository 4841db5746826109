"""The Gradescope autograder against hostile uploads and a new instructor's use (issue 20, item 3).

Each test builds Gradescope's layout in a temporary root (source/autograder.json as `derive
autograder` writes it, submission/ as the student uploaded it) and runs the grading step in
process. Points come from the problem files themselves (tomllib), not from derive."""
import json
import os
import time
import tomllib
from pathlib import Path


from derive.batch import autograder
from derive.cli import main
from derive.problem.index import catalogue_dir

PROBLEMS = ("two-hidden-deltas", "residual-relu")


def file_points(pid) -> dict:
    """quantity -> points, read from the TOML file: [points], else 1 each."""
    data = tomllib.loads((catalogue_dir() / f"{pid}.toml").read_text(encoding="utf-8"))
    names = [q if isinstance(q, str) else q["name"] for q in data["quantities"]]
    return {q: data.get("points", {}).get(q, 1) for q in names}


ALL_POINTS = sum(sum(file_points(p).values()) for p in PROBLEMS)


def gradescope_root(tmp_path) -> Path:
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    questions = [[p, q] for p in PROBLEMS for q in file_points(p)]
    (root / "source" / "autograder.json").write_text(json.dumps(
        {"derive": "x", "problems": list(PROBLEMS), "questions": questions}), encoding="utf-8")
    return root


def results(root) -> tuple[dict, str]:
    raw = (root / "results" / "results.json").read_text(encoding="utf-8")
    return json.loads(raw), raw


def test_a_symlink_to_a_system_file_is_not_read(tmp_path):
    root = gradescope_root(tmp_path)
    os.symlink("/etc/passwd", root / "submission" / "answers.txt")
    autograder.run(root)
    res, raw = results(root)
    assert "root:" not in raw and "daemon" not in raw
    assert "symbolic links are not read (answers.txt)" in res["output"]
    assert res["score"] == 0


def test_a_linked_folder_is_not_entered(tmp_path):
    root = gradescope_root(tmp_path)
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "answers.txt").write_text("[two-hidden-deltas]\ndelta4: SECRET\n")
    os.symlink(secret, root / "submission" / "dir")
    autograder.run(root)
    res, raw = results(root)
    assert "SECRET" not in raw and "no answer file found" in res["output"]


def test_an_empty_upload_is_worth_the_whole_assignment(tmp_path):
    root = gradescope_root(tmp_path)
    autograder.run(root)                     # nothing uploaded at all
    res, _ = results(root)
    assert sum(t["max_score"] for t in res["tests"]) == ALL_POINTS
    assert res["output"].splitlines()[1] == f"0 of {len(res['tests'])} answers with full credit; score 0 / {ALL_POINTS}"


def test_unanswered_questions_keep_their_points_so_every_student_has_the_same_total(tmp_path):
    root = gradescope_root(tmp_path)
    (root / "submission" / "answers.txt").write_text("[two-hidden-deltas]\ndelta4: 2(f - y)\n", encoding="utf-8")
    autograder.run(root)
    res, _ = results(root)
    tests = {t["name"]: t for t in res["tests"]}
    assert sum(t["max_score"] for t in res["tests"]) == ALL_POINTS
    assert tests["two-hidden-deltas: delta3"]["max_score"] == file_points("two-hidden-deltas")["delta3"] == 4
    assert tests["two-hidden-deltas: delta4"]["score"] == 3


def test_feedback_in_text_format_is_not_raw_latex(tmp_path):
    root = gradescope_root(tmp_path)
    (root / "submission" / "answers.txt").write_text(
        "[two-hidden-deltas]\ndrho/dW3: delta4 H2^T\ndelta3: \\sigma'(Z^2) \\odot (W^3)^T \\delta^4\n", encoding="utf-8")
    autograder.run(root)
    res, _ = results(root)
    for t in res["tests"]:
        assert t["output_format"] == "text" and "\\" not in t["output"], t["output"]
    out = {t["name"]: t["output"] for t in res["tests"]}
    assert "interpreted as: δ^4 H^2ᵀ" in out["two-hidden-deltas: drho/dW3"]      # the statement's spelling (problem6 writes δ^4)


def test_a_15_mb_upload_is_refused_quickly_with_a_small_results_file(tmp_path):
    root = gradescope_root(tmp_path)
    line = "[two-hidden-deltas]\n" + "delta4: " + "x + " * 1000 + "x\n"
    (root / "submission" / "answers.txt").write_text(line * (15_000_000 // len(line)), encoding="utf-8")
    t = time.monotonic()
    autograder.run(root)
    assert time.monotonic() - t < 10
    res, raw = results(root)
    assert len(raw) < 20_000 and "answers.txt is 14,6" in res["output"] and "at most 256 KB" in res["output"]
    assert sum(t["max_score"] for t in res["tests"]) == ALL_POINTS


def test_thousands_of_unknown_answers_make_a_bounded_results_file(tmp_path):
    root = gradescope_root(tmp_path)
    lines = "".join(f"[nope{i}]\nq: {'y' * 100}\n" for i in range(300))
    (root / "submission" / "answers.txt").write_text(lines, encoding="utf-8")
    autograder.run(root)
    res, raw = results(root)
    assert len(raw) < 40_000 and "more lines like these" in res["output"]


def test_setup_updates_the_package_lists_before_installing():
    setup = autograder.SETUP_SH
    assert "apt-get update" in setup and setup.index("apt-get update") < setup.index("apt-get install")


CLASS = ("student,problem,quantity,answer\n"
         "s01,problem1,dL/db3,dL/dh3 f3'\n"
         "s02,problem1,dL/db3,0\n"
         "s03,problem1,dL/db3,dL/dh3 f3'\n")


def test_gradescope_results_of_one_student_of_a_class_file(tmp_path, capsys):
    src = tmp_path / "class.csv"
    src.write_text(CLASS)
    out = tmp_path / "results.json"
    assert main(["grade", str(src), "--gradescope", str(out), "--student", "s02"]) == 0, capsys.readouterr().err
    res = json.loads(out.read_text())
    [test] = res["tests"]
    assert test["status"] == "failed" and test["score"] == 0          # s02's "0", not s01's right answer
    report = (tmp_path / "class.report.csv").read_text().splitlines()
    assert len(report) == 4                                           # the report keeps the whole class


def test_several_students_without_student_say_how_to_pick_one(tmp_path, capsys):
    src = tmp_path / "class.csv"
    src.write_text(CLASS)
    assert main(["grade", str(src), "--gradescope", str(tmp_path / "r.json")]) == 2
    assert "pick one with --student NAME" in capsys.readouterr().err
    assert main(["grade", str(src), "--gradescope", str(tmp_path / "r.json"), "--student", "s09"]) == 2
    assert "--student 's09'" in capsys.readouterr().err and not (tmp_path / "r.json").exists()
