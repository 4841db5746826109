"""Matrix-operations benchmark (issue 26; a figure, not a test): for every result of
bench/matrix_ops/, the size of the closed form `derive solve` states against the textbook form's
(operands, derive.notation.size), and the time to solve and verify each problem.

    PYTHONPATH=. python bench/bench_matrix_ops.py

Target: every result within 1.3x the textbook size. Exits 0 whatever it measures.
"""
from __future__ import annotations

import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from derive import solve  # noqa: E402
from derive.notation.size import size  # noqa: E402

FOLDER = Path(__file__).resolve().parent / "matrix_ops"
TARGET = 1.3


@dataclass(frozen=True)
class Form:
    problem: str          # file stem in bench/matrix_ops/
    quantity: str
    text: str             # the textbook closed form, in derive's answer syntax

    @property
    def path(self) -> Path:
        return FOLDER / f"{self.problem}.toml"


def problem_files() -> list[Path]:
    return sorted(p for p in FOLDER.glob("*.toml") if p.name != "forms.toml")


def forms() -> tuple[Form, ...]:
    data = tomllib.loads((FOLDER / "forms.toml").read_text(encoding="utf-8"))
    return tuple(Form(f["problem"], f["quantity"], f["text"]) for f in data["form"])


def derived_text(solution, quantity: str) -> str:
    """The result as `derive solve` states it (its final form)."""
    q = solution.problem.quantity(quantity)
    return next(d for d in solution.to_dict()["quantities"] if d["name"] == q.name)["text"].split(" = ")[-1]


def sizes(solution, form: Form) -> tuple[int, int]:
    scope = solution.problem.scope
    return (size(derived_text(solution, form.quantity), scope.aliases, scope.functions),
            size(form.text, scope.aliases, scope.functions))


def main() -> None:
    solved, seconds = {}, {}
    for f in problem_files():
        t = time.perf_counter()
        solved[f.stem] = solve(str(f))
        seconds[f.stem] = time.perf_counter() - t
    print("| problem | quantity | derived | textbook | ratio | solve+verify | verified |")
    print("|---|---|---|---|---|---|---|")
    worst = (0.0, None)
    for form in forms():
        sol = solved[form.problem]
        d, tb = sizes(sol, form)
        ok = sol.check_for(sol.problem.quantity(form.quantity).name).verified
        worst = max(worst, (d / tb, form), key=lambda w: w[0])
        print(f"| {form.problem} | {form.quantity} | {d} | {tb} | {d / tb:.2f}{'' if d / tb <= TARGET else ' *'} "
              f"| {seconds[form.problem] * 1000:.0f} ms | {'yes' if ok else 'NO'} |")
    print()
    for form in forms():
        print(f"{form.problem} {form.quantity}\n  derived:  {derived_text(solved[form.problem], form.quantity)}\n"
              f"  textbook: {form.text}")
    ratio, form = worst
    print(f"\nworst ratio: {ratio:.2f} ({form.problem} {form.quantity})")
    print(f"{'PASS' if ratio <= TARGET else 'MISS'}: every result within {TARGET}x the textbook size")


if __name__ == "__main__":
    main()
