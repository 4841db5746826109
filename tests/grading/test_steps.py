"""Step-level grading: verdicts per step, the first wrong step, error carried forward (ECF).

The golden submissions under tests/data/submissions/ are answer files; expected.toml beside them
holds what a careful TA gives each (worked out by hand from the seeds and the maths).
"""
import csv
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from derive import Checker
from derive.batch import answer_file as submission
from derive.batch import run as grade
from derive.cli import main
from derive.engine.backprop import derive as derive_problem
from derive.errors import ProblemSpecError, UnknownError, UsageError
from derive.grading import VERDICTS
from derive.grading.ecf import World, ancestors, node_of, step_result
from derive.grading.reference import DecisionBasis, Reference
from derive.grading.steps import check_answer, check_submission
from derive.notation.text import text
from derive.problem.load import catalogue, load, load_file

DATA = Path(__file__).parent.parent / "data" / "submissions"
EXPECTED = tomllib.loads((DATA / "expected.toml").read_text(encoding="utf-8"))
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checker():
    with Checker(workers=2) as c:
        yield c


def graded(checker, case, **kw):
    lines = submission.read_path(DATA / f"{case}.txt")
    p = checker.load(EXPECTED[case]["problem"])
    return check_submission(p, submission.for_problem(lines, p), checker=checker, **kw)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_golden_submissions_are_graded_as_a_careful_ta_would(checker, case):
    want = EXPECTED[case]
    res = graded(checker, case)
    assert {s.quantity: s.verdict for s in res.steps} == want["verdicts"]
    assert res.first_mistake == (want["first_mistake"] or None)
    assert (res.score, res.max_score) == (want["score"], want["max_score"])
    by_name = {s.quantity: s for s in res.steps}
    for name, follows in want.get("follows", {}).items():
        assert list(by_name[name].follows) == follows, name
    for name, score in want.get("scores", {}).items():
        assert by_name[name].score == score, name
    for s in res.steps:
        if s.verdict != "consistent":
            assert s.follows == ()
        if s.verdict == "consistent":
            assert not s.correct and any("your" in f for f in s.feedback)
    if want["first_mistake"]:
        assert res.headline.startswith(f"the first mistake is in {want['first_mistake']}: ")
        assert ("the next mistake is in " + want.get("next_mistake", "?") in res.headline) == ("next_mistake" in want)
        assert ("the next mistake" in res.headline) == ("next_mistake" in want)
    else:
        assert res.headline == "no mistakes: every step is right"


def test_steps_come_in_the_problems_order_with_unasked_gradients_before_their_first_use(checker):
    res = graded(checker, "p1-c-two-mistakes")
    assert [s.quantity for s in res.steps] == ["dL/dw1", "dL/dh2", "dL/dw2", "dL/dw3", "dL/dw4", "dL/db1",
                                               "dL/db2", "dL/db3", "dL/dx"]
    assert [s.max_score for s in res.steps][1] == 0 and not res.steps[1].asked


def test_ecf_share_from_the_argument_and_from_the_problem_file(checker, tmp_path):
    res = graded(checker, "p6-b-carried", ecf=0.5)
    assert res.score == EXPECTED["p6-b-carried"]["score_at_half_ecf"] and res.ecf == 0.5
    assert {s.score for s in res.steps if s.verdict == "consistent"} == {1.0, 0.5, 2.0}   # halves of 2, 1, 4
    src = (ROOT / "problems" / "two-hidden-deltas.toml").read_text(encoding="utf-8")
    f = tmp_path / "half.toml"
    f.write_text(src.replace('id = "two-hidden-deltas"', 'id = "half-ecf"\necf = 0.5')
                 .replace('alias = "problem6"', 'alias = ""'), encoding="utf-8")
    lines = submission.read_path(DATA / "p6-b-carried.txt")
    answers = submission.for_problem(lines, checker.load("problem6"))
    assert check_submission(str(f), answers, checker=checker).score == 8.5
    assert check_submission(str(f), answers, ecf=0, checker=checker).score == 0
    with pytest.raises(UsageError, match="from 0 to 1"):
        check_submission(str(f), answers, ecf=1.5, checker=checker)


def test_to_dict_is_exactly_the_contract(checker):
    d = graded(checker, "p6-c-two-mistakes").to_dict()
    assert list(d) == ["problem", "score", "max_score", "first_mistake", "steps"]
    assert d["problem"] == "two-hidden-deltas" and d["first_mistake"] == "delta4"
    for s in d["steps"]:
        assert list(s) == ["quantity", "answer", "verdict", "score", "max_score", "diagnosis", "feedback",
                           "follows"]
        assert s["verdict"] in VERDICTS
    assert d["steps"][4]["diagnosis"] == ["transpose"]
    json.dumps(d)


def test_unanswered_quantities_count_zero_and_duplicates_or_unknown_names_are_refused(checker):
    res = check_submission("problem6", {"delta4": "2(f - y)", "drho/dW3": "delta4 H2^T"}, checker=checker)
    assert (res.score, res.max_score) == (5, 20)
    assert [s.verdict for s in res.steps[2:]] == ["invalid"] * 7 and res.steps[2].feedback == ("no answer given",)
    assert res.first_mistake is None and "not answered: drho/db3" in res.headline
    with pytest.raises(UsageError, match="delta4 is answered twice"):
        check_submission("problem6", [("delta4", "2(f-y)"), ("delta^4", "2(f-y)")], checker=checker)
    with pytest.raises(UnknownError, match="unknown quantity 'dL/dq' for two-hidden-deltas; known: delta4, .*; gradients of its derivation "
                       "an answer may also define: delta4, drho/dH2, delta3"):
        check_submission("problem6", {"dL/dq": "1"}, checker=checker)


def test_a_hostile_step_costs_its_own_points_only(checker):
    res = check_submission("problem6", [("delta4", "f - y"), ("delta3", "9^9^9^9"),
                                        ("drho/db3", "f - y")], checker=checker, timeout=1)
    by = {s.quantity: s for s in res.steps}
    assert by["delta3"].verdict in ("invalid", "undecided") and by["delta3"].score == 0
    assert by["drho/db3"].verdict == "consistent" and by["delta4"].verdict == "incorrect"


def test_a_wrong_shape_earlier_answer_is_not_substituted(checker):
    # delta3 written as a row: no value to carry forward; drho/db2 = its transpose stays incorrect
    res = check_submission("problem6", [("delta3", "(sigma'(Z2) ⊙ (W3^T delta4))^T"),
                                        ("drho/db2", "(sigma'(Z2) ⊙ (W3^T delta4))^T")], checker=checker)
    assert [s.verdict for s in res.steps if s.answer] == ["incorrect", "incorrect"]


# ---- a wrong step whose inputs are right is never consistent ------------------------------------
CHAINED = [p.id for p in catalogue(library=False) if p.asks_gradients]


@pytest.mark.slow
@pytest.mark.parametrize("problem", CHAINED)
def test_a_wrong_step_with_right_inputs_stays_incorrect(checker, problem):
    """The last asked gradient that builds on other gradients, doubled, after every gradient it
    builds on answered right (as derive solve prints them; those that do not read back are left
    out): incorrect, following nothing, 0 points."""
    sol = checker.solve(problem)
    p, d = sol.problem, sol.derivation
    chained = [q for q in p.quantities if node_of(p, q) and ancestors(p, d, node_of(p, q))]
    if not chained:
        pytest.skip("no asked gradient builds on another gradient")
    target = chained[-1]
    ref = Reference(p, d)
    right = {}
    for node in ancestors(p, d, node_of(p, target)):
        name = p.adjoint_names[node]
        if any(q.name == name and not q.graded for q in p.quantities):
            continue
        answer = text(step_result(ref, name).expr)
        if check_answer(checker, p, name, answer).verdict == "correct":     # (-3/2 powers do not read back)
            right[name] = answer
    r = d.result(target.name)
    wrong = f"2*({text(r.expr)})"
    res = check_submission(p, {**right, target.name: wrong}, checker=checker)
    by = {s.quantity: s for s in res.steps if s.answer}
    assert by[target.name].verdict == "incorrect" and by[target.name].follows == ()
    assert by[target.name].score == 0 and res.first_mistake == target.name
    inputs = [s for s in by.values() if s.quantity != target.name]
    assert inputs and all(s.verdict == "correct" for s in inputs)


# ---- the command line ---------------------------------------------------------------------------
def cli(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "derive.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=env)


def test_cli_submission_text_and_exit_code_in_a_fresh_process():
    p = cli("check", "problem6", "--submission", DATA / "p6-b-carried.txt")
    assert p.returncode == 1, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("the first mistake is in delta4: off by a constant factor")
    assert lines[0].endswith("; later steps are consistent with it")
    assert lines[1].startswith("score 17 / 20")
    assert any(line.split()[:2] == ["drho/dW2", "consistent"] for line in lines)


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_submission_json_ecf_and_exit_codes(tmp_path, capsys):
    code, out, _ = run(capsys, "check", "problem6", "--submission", DATA / "p6-b-carried.txt", "--ecf", "0.5",
                       "--json")
    d = json.loads(out)
    assert code == 1 and (d["score"], d["max_score"], d["first_mistake"]) == (8.5, 20, "delta4")
    code, out, _ = run(capsys, "check", "problem6", "--submission", DATA / "p6-a-right.txt")
    assert code == 0 and out.startswith("no mistakes: every step is right")
    for content, message in [
            ("[two-hidden-deltas]\ndelta4 2(f - y)\n", "line 2 is not `QUANTITY: ANSWER`"),
            ("[residual-relu]\nz: 0.62\n", "answers nothing of two-hidden-deltas (it has answers for residual-relu)"),
            ("[two-hidden-deltas]\ndelta9: 1\n", "unknown quantity 'delta9' for two-hidden-deltas")]:
        f = tmp_path / "bad.txt"
        f.write_text(content, encoding="utf-8")
        code, _, err = run(capsys, "check", "problem6", "--submission", f)
        assert code == 2 and err.startswith("Error: ") and message in err
    code, _, err = run(capsys, "check", "problem6", "--submission", tmp_path / "missing.txt")
    assert code == 2 and "Error: " in err
    plain = tmp_path / "plain.txt"                  # no [problem] line: every line is this problem's
    plain.write_text("delta4: 2(f - y)\n", encoding="utf-8")
    assert run(capsys, "check", "problem6", "--submission", plain)[0] == 1          # 8 unanswered
    bomb = tmp_path / "bomb.txt"
    bomb.write_text("delta4: (\n", encoding="utf-8")
    assert run(capsys, "check", "problem6", "--submission", bomb)[0] == 2           # nothing gradable
    code, _, err = run(capsys, "check", "problem6", "delta4", "--submission", plain)
    assert code == 2 and "give only the PROBLEM" in err
    code, _, err = run(capsys, "check", "problem6", "delta4", "2(f-y)", "--ecf", "0.5")
    assert code == 2 and "--ecf applies to a whole derivation" in err


def test_single_answer_json_is_unchanged(capsys):
    code, out, _ = run(capsys, "check", "problem6", "delta4", "f - y", "--json")
    d = json.loads(out)
    assert list(d) == ["problem", "quantity", "answer", "verdict", "correct", "score", "diagnosis",
                       "feedback", "interpreted", "offset"]
    assert code == 1 and d["verdict"] == "incorrect"


# ---- derive grade: one student's rows of one problem are one derivation ---------------------------
def test_grade_treats_a_students_rows_of_a_problem_as_one_derivation(checker, tmp_path):
    rows = [("ann", "problem6", q, a) for q, a in submission.for_problem(
        submission.read_path(DATA / "p6-b-carried.txt"), checker.load("problem6"))]
    rows += [("bob", "problem6", "delta4", "f - y"), ("bob", "problem6", "delta3", "W3^T (f - y)")]
    src = tmp_path / "class.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("student", "problem", "quantity", "answer"), *rows])
    grade.grade_file(src, tmp_path / "report.csv", totals=tmp_path / "totals.csv", checker=checker)
    with open(tmp_path / "report.csv", newline="", encoding="utf-8") as f:
        report = list(csv.DictReader(f))
    want = EXPECTED["p6-b-carried"]["verdicts"]
    assert [(r["quantity"], r["verdict"]) for r in report[:9]] == list(want.items())
    assert [r["verdict"] for r in report[9:]] == ["incorrect", "incorrect"]      # bob's delta3 lacks sigma'
    assert "it does not follow from your delta4 either" in report[10]["feedback"]
    with open(tmp_path / "totals.csv", newline="", encoding="utf-8") as f:
        totals = {r["student"]: r for r in csv.DictReader(f)}
    assert (totals["ann"]["score"], totals["ann"]["max_score"]) == ("17", "20")
    assert (totals["bob"]["score"], totals["bob"]["max_score"]) == ("0", "7")   # delta4 3 + delta3 4


def test_gradescope_shows_the_steps_with_ecf_credit_and_the_first_mistake(checker, tmp_path):
    grade.grade_file(DATA / "p6-c-two-mistakes.txt", tmp_path / "r.csv", gradescope_out=tmp_path / "g.json",
                     checker=checker)
    res = json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))
    assert [t["name"].split(": ")[1] for t in res["tests"]] == list(EXPECTED["p6-c-two-mistakes"]["verdicts"])
    tests = {t["name"]: t for t in res["tests"]}
    t = tests["two-hidden-deltas: drho/db2"]
    assert (t["score"], t["max_score"], t["status"]) == (1, 1, "passed")
    assert t["output"].startswith("consistent") and "right given your delta3" in t["output"]
    assert tests["two-hidden-deltas: drho/dW2"]["status"] == "failed"
    assert res["score"] == EXPECTED["p6-c-two-mistakes"]["score"]
    assert "two-hidden-deltas: the first mistake is in delta4: " in res["output"]
    assert "the next mistake is in drho/dW2" in res["output"]


# ---- points and ecf in problem files ------------------------------------------------------------
@pytest.mark.parametrize("extra,message", [
    ('[points]\n"drho/dW9" = 2\n', "key 'points.drho/dW9': drho/dW9 is not one of the quantities asked"),
    ('[points]\ndelta4 = -1\n', "key 'points.delta4': points are a number from 0 to 1000000, not -1"),
    ('[points]\ndelta4 = "two"\n', "not 'two'"),
    ('points = 3\n', "points is a table of quantity = number"),
])
def test_points_key_is_validated(tmp_path, extra, message):
    src = (ROOT / "problems" / "two-hidden-deltas.toml").read_text(encoding="utf-8")
    src = src[:src.index("[points]")] + src[src.index("[conventions]"):]
    f = tmp_path / "p.toml"
    f.write_text(src.replace("[conventions]", extra + "\n[conventions]", 1) if extra.startswith("[")
                 else src.replace('title =', extra + 'title =', 1), encoding="utf-8")
    with pytest.raises(ProblemSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_file(f)


@pytest.mark.parametrize("value", ["1.5", "-0.1", '"half"', "true"])
def test_ecf_key_is_validated(tmp_path, value):
    src = (ROOT / "problems" / "scalar-chain.toml").read_text(encoding="utf-8")
    f = tmp_path / "p.toml"
    f.write_text(src.replace('title =', f'ecf = {value}\ntitle =', 1), encoding="utf-8")
    with pytest.raises(ProblemSpecError, match="key 'ecf': the credit for an error carried forward is a number"):
        load_file(f)


def test_seed_003_points_add_up_to_20():
    p = load_file(ROOT / "problems" / "two-hidden-deltas.toml")
    assert sum(p.points_of(q.name) for q in p.quantities) == 20


def test_the_ecf_world_offers_what_decide_asks_of_a_reference():
    """decide() grades against a DecisionBasis: the reference, or a student's world. A new attribute of the
    reference that decide() starts to use must be listed in DecisionBasis.ATTRIBUTES and set by the world too
    (once, a missing one came back as 'could not be checked in time')."""
    p = load("problem6")
    ref = Reference(p, derive_problem(p))
    world = World(ref, {}, {})
    for name in DecisionBasis.ATTRIBUTES:
        assert hasattr(ref, name) and hasattr(world, name), name
    for obj in (ref, world):
        assert type(obj).point is not DecisionBasis.point and type(obj).value is not DecisionBasis.value
