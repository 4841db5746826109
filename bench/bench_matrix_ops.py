"""Matrix-operations benchmark (issue 26; a figure, not a test): for every result of
bench/matrix_ops/, the size of the closed form `derive solve` states against the textbook form's
(operands, derive.notation.size), and the time to solve and verify each problem.

    PYTHONPATH=. python bench/bench_matrix_ops.py

Target: every result within 1.3x the textbook size. Exits 0 whatever it measures.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import textbook_set  # noqa: E402
from textbook_set import TARGET, derived_text, sizes  # noqa: E402

from derive import solve  # noqa: E402

FOLDER = Path(__file__).resolve().parent / "matrix_ops"


def problem_files() -> list[Path]:
    return textbook_set.problem_files(FOLDER)


def forms() -> tuple:
    return textbook_set.forms(FOLDER)


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
