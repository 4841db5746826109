"""The command line: contracts of list and solve, exit codes, help with examples."""
import json
import subprocess
import sys

import pytest

from derive.cli import build_parser, main


def run(*args, stdin=None):
    p = subprocess.run([sys.executable, "-m", "derive.cli", *args], capture_output=True, text=True,
                       input=stdin, timeout=120)
    return p.returncode, p.stdout, p.stderr


def test_list_json_contract(capsys):
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {"id": "scalar-chain", "alias": "problem1", "title": rows[0]["title"],
                       "source": rows[0]["source"], "topic": "", "quantities": ["dL/dw1", "dL/dw2", "dL/dw3", "dL/dw4",
                                                                   "dL/db1", "dL/db2", "dL/db3", "dL/dx"]}
    assert "000_1ff43a6e760b674b.txt" in rows[0]["source"]


def test_solve_json_contract(capsys):
    assert main(["solve", "problem2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"id", "alias", "title", "steps", "quantities"}
    assert all(set(s) == {"name", "rule", "latex"} for s in data["steps"])
    q = {x["name"]: x for x in data["quantities"]}
    assert set(q["z"]) == {"name", "kind", "text", "latex", "shape", "value", "verified", "max_rel_error",
                           "graded", "checked_by"}
    assert q["z"]["checked_by"] == "the forward pass" and q["dz/dw0"]["checked_by"] == "central finite differences"
    assert q["z"]["value"] == 0.62 and q["u1"]["value"] == -0.08 and q["dz/dw0"]["value"] == -0.2
    assert q["z"]["shape"] is None and all(x["verified"] for x in q.values())


def test_solve_matrix_shapes_and_quantity_filter(capsys):
    assert main(["solve", "two-hidden-deltas", "--quantity", "drho/dW1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [q] = data["quantities"]
    assert q["name"] == "drho/dW1" and q["shape"] == "d_H×d" and q["text"] == "delta2*x^T"
    assert q["value"] is None and q["verified"]


def test_solve_text_shows_steps_results_and_verification(capsys):
    assert main(["solve", "problem1"]) == 0
    out = capsys.readouterr().out
    assert "Forward pass:" in out and "Backward pass:" in out
    assert "sum over the 2 paths into x" in out
    assert "dL/dw1 = dL/dh3*w3*x*f1'(b1 + w1*x)*f3'(b3 + h1*w3 + h2*w4)" in out
    assert out.count("verified, max relative error") == 8


@pytest.mark.parametrize("args, message", [
    (["solve", "problem99"], "unknown problem 'problem99'; did you mean problem9 or problem19?; known: problem1 (scalar-chain)"),
    (["solve", "problem1", "--quantity", "dL/dw9"], "unknown quantity 'dL/dw9'"),
])
def test_unusable_input_exits_2_with_a_message_not_a_traceback(args, message):
    code, out, err = run(*args)
    assert code == 2
    assert err.startswith("Error: ") and message in err
    assert "Traceback" not in err


def test_every_command_has_help_with_an_example():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"list", "solve"} <= set(sub.choices)
    for name, p in sub.choices.items():
        text = p.format_help()
        assert "example" in text and f"derive {name} " in text, name


def test_problems_dir_works_before_or_after_the_command(tmp_path, capsys):
    (tmp_path / "tiny.toml").write_text('id = "tiny"\ntitle = "Tiny"\nforward = ["h = sigma(w*x + b)"]\n'
                                        'output = "h"\nquantities = ["dh/dw"]\n[symbols]\nx = "scalar"\n'
                                        'w = "scalar"\nb = "scalar"\n')
    assert main(["solve", "tiny", "--problems", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["quantities"][0]["verified"]
    assert main(["--problems", str(tmp_path), "list", "--json"]) == 0
    assert "tiny" in {p["id"] for p in json.loads(capsys.readouterr().out)}


@pytest.mark.parametrize("argv", [
    ["check", "problem1", "dL/dw1", "-x*w3*dL/dh3*f1'*f3'"],
    ["check", "problem1", "dL/dw1", "-x*w3*dL/dh3*f1'*f3'", "--json"],
    ["check", "--format", "text", "problem1", "dL/dw1", "-x*w3*dL/dh3*f1'*f3'"],
])
def test_an_answer_starting_with_minus_is_an_answer_not_an_option(argv, capsys):
    assert main(argv) == 1                         # read, checked, and found to have the wrong sign
    assert "sign" in capsys.readouterr().out


def test_solve_shows_shapes_with_their_values_and_no_backward_pass_when_no_gradient_is_asked(capsys):
    assert main(["solve", "dense-shapes-params"]) == 0
    out = capsys.readouterr().out
    assert "shape_A = (n_1, batch) = (1024, 32)" in out and "= 557057" in out
    assert "Backward pass" not in out
    assert main(["solve", "dense-shapes-params", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["steps"] == []
    q = {x["name"]: x for x in data["quantities"]}
    assert q["shape_A"]["kind"] == "shape" and q["shape_A"]["checked_by"] == "positive integer dimensions"


def test_solve_prints_a_prose_model_answer_as_not_auto_graded(capsys):
    assert main(["solve", "linear-collapse"]) == 0
    out = capsys.readouterr().out
    assert "same_function (not auto-graded), model answer:" in out
    assert "same_function = prose" not in out
    assert main(["solve", "linear-collapse", "--json"]) == 0
    q = {x["name"]: x for x in json.loads(capsys.readouterr().out)["quantities"]}
    assert q["same_function"]["graded"] is False and q["same_function"]["text"].startswith("Yes, and always")


@pytest.mark.parametrize("argv", [["check", "problem6", "delta4", "--format", "numpy", "2*(f-y)"],
                                  ["check", "problem6", "delta4", "--json", "2(f-y)"],
                                  ["check", "problem6", "--json", "delta4", "2(f-y)"]])
def test_options_may_stand_between_the_quantity_and_the_answer(argv, capsys):
    """argparse left the answer unrecognised when an option came before it."""
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert ('"verdict": "correct"' in out) if "--json" in argv else out.strip().splitlines()[1] == "correct"


def test_an_output_suffix_in_capitals_is_the_same_kind(tmp_path):
    """-o x.TEX (or x.PDF) was refused: 'the output must end in .tex or .pdf'."""
    out = tmp_path / "sheet.TEX"
    assert main(["sheet", "problem1", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("% generated by derive") and r"\documentclass" in out.read_text()
