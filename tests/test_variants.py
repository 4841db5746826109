"""Per-student variants: seeded draws, exact printed numbers, the require and structure guards,
grading against a student's own variant, roster sheets, and every catalogue variant verifying.

Expected numbers come from the residual block written out by hand with exact fractions (the
seed's T1 formulas), never from the engine.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest

import derive
from derive import variants as V
from derive.cli import main
from derive.errors import ProblemSpecError
from derive.problem.index import catalogue_dir
from derive.render.roster import render_roster

ROOT = Path(__file__).resolve().parent.parent
VARYING = ["residual-relu", "dense-shapes-params", "conv-output-size", "xavier-init", "bounded-activation",
           "two-layer-classification", "two-layer-classification-relu"]
# 200 seeds each in CI (.ci/run sets it); fewer on a developer's machine
SEEDS = int(os.environ.get("DERIVE_VARIANT_SEEDS", "10"))
HAVE_TEX = shutil.which("latexmk") is not None or shutil.which("pdflatex") is not None


def run_cli(*args, env=None):
    e = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "derive.cli", *args], capture_output=True, text=True,
                          env=e, cwd=ROOT, timeout=120)


def residual_by_hand(x0, w0, w1, b0, b1) -> dict:
    """Seed 004 T1 with both ReLUs active: forward values and the four gradients, exactly."""
    y0 = x0 * w0 + b0
    x1 = max(y0, 0)
    y1 = x1 * w1 + b1
    v1 = y1 + x0
    z = max(v1, 0)
    return {"y0": y0, "x1": x1, "y1": y1, "v1": v1, "z": z,
            "dz/dw0": w1 * x0, "dz/dw1": x1, "dz/db0": w1, "dz/db1": Fraction(1), "dz/dx0": 1 + w1 * w0}


# ---- draws --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_variant_is_reproducible_across_fresh_processes_and_hash_seeds():
    a = run_cli("variant", "residual-relu", "--seed", "17", "--json", env={"PYTHONHASHSEED": "1"})
    b = run_cli("variant", "residual-relu", "--seed", "17", "--json", env={"PYTHONHASHSEED": "2"})
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    c = run_cli("variant", "residual-relu", "--seed", "18", "--json")
    assert json.loads(c.stdout)["values"] != json.loads(a.stdout)["values"]


def test_different_seeds_give_different_numbers():
    drawn = {tuple(V.instantiate("residual-relu", s).value_text.items()) for s in range(20)}
    assert len(drawn) >= 15


def test_drawn_values_print_exactly_and_lie_on_the_grid():
    spec = derive.load("residual-relu").variants
    for seed in range(40):
        p = V.instantiate("residual-relu", seed)
        for r in spec.ranges:
            text = p.value_text[r.name]
            assert len(text) <= 4, text                      # 0.3, -0.2, 1.5: never 0.30000000000000004
            k = (Fraction(text) - Fraction(str(r.low))) / Fraction(str(r.step))
            assert k.denominator == 1 and 0 <= k < r.count
            assert f"= {text}$" in p.statement               # the statement shows the drawn number
        assert p.id == "residual-relu" and p.variant == seed


def test_variant_answer_key_matches_the_hand_computed_residual_block():
    for seed in (0, 7, 17, 123):
        p = V.instantiate("residual-relu", seed)
        given = {k: Fraction(v) for k, v in p.value_text.items()}
        want = residual_by_hand(**given)
        assert want["y0"] > 0 and want["v1"] > 0             # require = ["y0 > 0", "v1 > 0"]
        checks = {c.name: c for c in derive.solve(p).checks}
        for name, value in want.items():
            assert checks[name].verified
            assert checks[name].value == pytest.approx(float(value), abs=1e-12), (seed, name)


def test_seed_for_is_sha256_of_salt_and_id():
    import hashlib
    digest = hashlib.sha256("fall26\0s1001".encode()).digest()
    assert V.seed_for("s1001", "fall26") == int.from_bytes(digest[:8], "big") % V.SEED_RANGE
    assert V.seed_for("s1001", "fall26") != V.seed_for("s1001", "spring27")
    assert V.seed_for(" s1001 ", "fall26") == V.seed_for("s1001", "fall26")


def test_slot_choices_change_the_activation_and_keep_the_steps():
    seen = {}
    for seed in range(12):
        p = V.instantiate("two-layer-classification", seed)
        seen[p.choices["f"]] = p
    assert set(seen) == {"sigma", "tanh", "softplus"}
    tanh = seen["tanh"]
    assert "z2 = tanh(z1)" in [e.text for e in tanh.equations]
    assert r"$f = \tanh$" in tanh.statement and "f = tanh" in tanh.title
    assert [s.rule for s in derive.solve(tanh).derivation.steps] != \
        [s.rule for s in derive.solve(seen["sigma"]).derivation.steps]     # the rule names its function
    assert V.structure(tanh) == V.structure(seen["sigma"])                 # ... but the slot compares equal


# ---- guards: require, structure, bad specs --------------------------------------------------------
def write_problem(tmp_path, variants: str, name="v.toml"):
    text = (catalogue_dir() / "residual-relu.toml").read_text(encoding="utf-8")
    text = text.replace('id = "residual-relu"\nalias = "problem2"', 'id = "my-residual"')
    head, _, rest = text.partition("[variants]")
    rest = rest[rest.index("[[answers]]"):]
    path = tmp_path / name
    path.write_text(head + variants + "\n" + rest, encoding="utf-8")
    return path


def test_without_require_the_structure_guard_keeps_both_relus_on(tmp_path):
    path = write_problem(tmp_path, "[variants]\nw0 = {min = -0.5, max = 0.5, step = 0.1}\n"
                                   "b0 = {min = -0.3, max = 0.3, step = 0.1}\n")
    for seed in range(30):
        p = V.instantiate(str(path), seed)
        g = {k: Fraction(v) for k, v in p.value_text.items()}
        assert g["x0"] * g["w0"] + g["b0"] > 0, (seed, g)       # a ReLU switched off would be refused


def test_unsatisfiable_require_is_a_validate_failure(tmp_path):
    path = write_problem(tmp_path, '[variants]\nx0 = {min = 0.5, max = 2.0, step = 0.5}\nrequire = ["x0 > 5"]\n')
    with pytest.raises(V.VariantError, match=r"no variant for seed 0 in 200 draws: require 'x0 > 5' fails"):
        V.instantiate(str(path), 0)
    r = run_cli("validate", str(path))
    assert r.returncode == 2
    assert "FAIL  variants: seed 0:" in r.stdout and "'x0 > 5' fails" in r.stdout


@pytest.mark.parametrize("spec, message", [
    ("w0 = {min = 0, max = 1, step = 0.3}", r"variants.w0.*not a whole number of steps of 0.3"),
    ("q = {min = 0, max = 1, step = 0.5}", r"variants.q.*q is not a symbol of this problem"),
    ("w0 = {min = 1, max = 0, step = 0.5}", r"need step > 0 and min <= max"),
    ("w0 = {low = 0, max = 1, step = 0.5}", r"a range is \{min = \.\.\., max = \.\.\., step = \.\.\.\}"),
    ('act = ["sigma", "swish"]', r"'swish' is not an activation"),
    ('act = ["sigma", "tanh"]', r"the forward equations never call the slot act"),
    ('w0 = {min = 0, max = 1, step = 0.5}\nrequire = ["v1 ~ 0"]', r"is not a comparison"),
    ('w0 = {min = 0, max = 1, step = 0.5}\nrequire = ["v9 > 0"]', r"variants.require\[0\].*v9"),
    ("w0 = 3", r"for a given value, or w0 = \[\"sigma\", \"tanh\"\] for a function slot"),
])
def test_bad_variant_specs_name_the_key(tmp_path, spec, message):
    path = write_problem(tmp_path, "[variants]\n" + spec + "\n")
    with pytest.raises(ProblemSpecError, match=message):
        derive.problem.load.load_file(path)


def test_variant_cli_errors_are_one_line(capsys):
    assert main(["variant", "scalar-chain", "--seed", "1"]) == 2
    assert "declares no [variants]" in capsys.readouterr().err
    assert main(["variant", "residual-relu", "--seed", "-3"]) == 2
    assert "a seed is a non-negative integer" in capsys.readouterr().err


# ---- grading against a variant -------------------------------------------------------------------
def test_right_answer_to_own_variant_is_correct_and_wrong_for_another():
    a, b = V.instantiate("residual-relu", 17), V.instantiate("residual-relu", 18)
    ga = {k: Fraction(v) for k, v in a.value_text.items()}
    gb = {k: Fraction(v) for k, v in b.value_text.items()}
    mine = residual_by_hand(**ga)["dz/dw0"]
    assert mine != residual_by_hand(**gb)["dz/dw0"]
    answer = str(float(mine))
    assert derive.check(a, "dz/dw0", answer).verdict == "correct"
    assert derive.check(b, "dz/dw0", answer).verdict == "incorrect"
    assert derive.check(V.variant_of("residual-relu", 17), "dz/dw0", answer).correct
    assert derive.check(a, "dz/dw0", "w1 x0").correct            # the symbolic answer holds in every variant


def test_checker_grades_against_the_variant_its_seed_names():
    with derive.Checker() as c:
        want = residual_by_hand(**{k: Fraction(v) for k, v in V.instantiate("residual-relu", 5).value_text.items()})
        answer = str(float(want["dz/dw1"]))
        assert c.check("residual-relu", "dz/dw1", answer, variant=5).correct
        others = [s for s in range(6, 30) if residual_by_hand(**{k: Fraction(v) for k, v in
                  V.instantiate("residual-relu", s).value_text.items()})["dz/dw1"] != want["dz/dw1"]]
        assert c.check("residual-relu", "dz/dw1", answer, variant=others[0]).verdict == "incorrect"
        assert c.check(V.instantiate("residual-relu", 5), "dz/dw1", answer).correct   # the Problem's own seed
        assert c.check("scalar-chain", "dL/dw1", "dL/dh3 f3' w3 f1' x", variant=3).correct   # nothing varies


def test_slot_variant_grades_the_derivative_of_its_own_activation():
    by = {V.instantiate("two-layer-classification", s).choices["f"]: s for s in range(12)}
    sig, tanh = V.variant_of("two-layer-classification", by["sigma"]), V.variant_of("two-layer-classification", by["tanh"])
    assert derive.check(sig, "dz2/dz1", "diag(z2 ⊙ (1 - z2))").correct
    assert derive.check(tanh, "dz2/dz1", "diag(z2 ⊙ (1 - z2))").verdict == "incorrect"
    assert derive.check(tanh, "dz2/dz1", "diag(1 - z2 ⊙ z2)").correct


def test_roster_assigns_each_student_their_variant(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,seed\ns1,Ada,17\ns2,Bo,\n", encoding="utf-8")
    students = V.read_roster(roster, salt="x")
    assert [(s.id, s.name) for s in students] == [("s1", "Ada"), ("s2", "Bo")]
    assert students[0].seed == 17 and students[1].seed == V.seed_for("s2", "x")
    assert V.for_student("residual-relu", "s1", students).value_text == V.instantiate("residual-relu", 17).value_text
    assert V.for_student("scalar-chain", "s1", students).variant is None      # nothing varies
    bad = tmp_path / "bad.csv"
    bad.write_text("name\nAda\n", encoding="utf-8")
    with pytest.raises(derive.DeriveError, match="naming an `id` column"):
        V.read_roster(bad)


# ---- sheets ---------------------------------------------------------------------------------------
def test_roster_sheet_has_one_part_per_student_with_their_numbers(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\ns1,Ada Lovelace\ns2,Bo & Co\n", encoding="utf-8")
    tex = render_roster(["residual-relu"], roster, questions=True, salt="fall26")
    assert tex.count(r"\setcounter{page}{1}") == 2 and tex.count(r"\clearpage") == 1
    assert r"\fancyhead[L]{\small Ada Lovelace (s1)}" in tex and r"Bo \& Co" in tex
    for sid in ("s1", "s2"):
        p = V.instantiate("residual-relu", V.seed_for(sid, "fall26"))
        assert p.statement.strip() in tex
    assert r"\boxed" not in tex                                   # questions only
    keys = render_roster(["residual-relu"], roster, questions=False, salt="fall26")
    assert keys.count(r"\boxed") == 2 * 12


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_TEX, reason="no TeX engine")
def test_thirty_student_roster_compiles_to_thirty_parts(tmp_path):
    roster = tmp_path / "roster.csv"
    with roster.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name"])
        w.writerows([f"s{i:03d}", f"Student {i}"] for i in range(30))
    for flag, name in (("--questions", "handouts.pdf"), ("--solutions", "keys.pdf")):
        start = time.perf_counter()
        r = run_cli("sheet", "residual-relu", "--roster", str(roster), "--salt", "t", flag, "-o", str(tmp_path / name))
        assert r.returncode == 0, r.stderr
        text = subprocess.run(["pdftotext", str(tmp_path / name), "-"], capture_output=True, text=True).stdout \
            if shutil.which("pdftotext") else ""
        if text:
            assert all(f"Student {i} (s{i:03d})" in text for i in range(30))
            assert text.count("Problem 1: Forward and backward pass") == 30      # numbered on the sheet
            assert re.search(r"variant [0-9A-Z]{5}\b", text) and not re.search(r"variant \d{6,}", text)
        print(f"{name}: {time.perf_counter() - start:.1f} s")   # the figure is measured in bench/


# ---- the catalogue ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_catalogue_variants_solve_verify_and_keep_their_steps():
    """`derive validate --variants N`: each seed instantiates, solves and verifies (N = 200 in CI)."""
    files = [str(catalogue_dir() / f"{pid}.toml") for pid in VARYING]
    r = run_cli("validate", "--quiet", "--variants", str(SEEDS), *files)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failed" in r.stdout


def test_every_varying_problem_declares_variants_and_its_base_is_unchanged():
    for pid in VARYING:
        p = derive.load(pid)
        assert p.variants is not None and p.variant is None
        assert r"\given" not in p.statement and r"\given" not in p.title
    assert "$x_0 = 1.0$, $w_0 = 0.3$, $w_1 = -0.2$, $b_0 = 0.1$, $b_1 = -0.3$" in derive.load("residual-relu").statement
