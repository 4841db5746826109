"""Library benchmark (issue 24; a figure, not a test): solve + verify of every problem of
problems/library/ in-process (total and per-problem maximum, caches cleared before each problem),
and the size of every derived result against its textbook form.

The textbook form of a result is the library's own record of it: the first sample answer marked
`correct` for that quantity (each problem records the textbook's answer first). Sizes are operand
counts (derive.notation.size), read with the problem's names, as bench_textbook.py counts them.

    PYTHONPATH=. python bench/bench_library.py [--runs 3]

Targets: every result within 1.3x the textbook form. Exits 0 whatever it measures; the target line
says PASS or MISS.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textbook_set import derived_text, fresh_load  # noqa: E402

from derive.notation import build as sy  # noqa: E402
from derive.notation.size import size  # noqa: E402
from derive.notation.text import text  # noqa: E402
from derive.problem.load import library_dir  # noqa: E402
from derive.verify import solve as pipeline  # noqa: E402

TARGET = 1.3


@dataclass(frozen=True)
class Row:
    problem: str
    quantity: str
    derived: int          # operands of the result derive states
    textbook: int         # operands of the recorded textbook form
    derived_text: str
    textbook_text: str

    @property
    def ratio(self) -> float:
        return self.derived / self.textbook


def files() -> list[Path]:
    return sorted(library_dir().glob("*.toml"))


def textbook_forms(problem) -> dict:
    """quantity name -> the first sample answer recorded as correct for it, as text (a LaTeX answer
    is read and printed in derive's text notation, so both sizes are counted on the same notation)."""
    out: dict = {}
    for s in problem.samples:
        if s.verdict == "correct":
            answer = text(sy.read(s.answer, problem.scope, "latex")) if "\\" in s.answer else s.answer
            out.setdefault(problem.quantity(s.quantity).name, answer)
    return out


def ratios(solutions=None) -> list[Row]:
    """One row per asked gradient of the library: derived size against the textbook form's."""
    rows = []
    for f in files():
        sol = solutions[f] if solutions else pipeline.solve(str(f))
        p = sol.problem
        names, functions = p.scope.aliases, p.scope.functions
        forms = textbook_forms(p)
        for q in p.quantities:
            if not q.kind.asks_gradient or q.name not in forms:
                continue
            shown = derived_text(sol, q.name)
            rows.append(Row(p.id, q.name, size(shown, names, functions), size(forms[q.name], names, functions),
                            shown, forms[q.name]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from bench_textbook import cold
    pipeline.solve(str(files()[0]))                   # warm the imports
    per_problem: dict = {}
    solutions = {}
    for f in files():
        times = []
        for _ in range(args.runs):
            cold()
            p = fresh_load(f)
            t = time.perf_counter()
            sol = pipeline.solve(p)
            times.append(time.perf_counter() - t)
            assert sol.verified, f
        per_problem[f.stem] = statistics.median(times)
        solutions[f] = sol
    total = sum(per_problem.values())
    worst = max(per_problem, key=per_problem.get)
    print(f"library: {len(per_problem)} problems, solve + verify in-process (median of {args.runs} runs each, "
          f"caches cleared)\n")
    print("| problem | solve + verify |")
    print("|---|---|")
    for name, t in sorted(per_problem.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {t * 1000:.0f} ms |")
    print(f"\ntotal: {total:.2f} s; per-problem maximum: {per_problem[worst] * 1000:.0f} ms ({worst})\n")

    rows = ratios(solutions)
    print("| problem | quantity | derived | textbook | ratio |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.problem} | {r.quantity} | {r.derived} | {r.textbook} | {r.ratio:.2f}{'' if r.ratio <= TARGET else ' *'} |")
    over = [r for r in rows if r.ratio > TARGET]
    for r in over:
        print(f"\n{r.problem} {r.quantity}\n  derived:  {r.derived_text}\n  textbook: {r.textbook_text}")
    top = max(rows, key=lambda r: r.ratio)
    print(f"\nworst ratio: {top.ratio:.2f} ({top.problem} {top.quantity}); "
          f"{len(rows) - len(over)}/{len(rows)} results within {TARGET}x")
    print(f"{'PASS' if not over else 'MISS'}: every library result within {TARGET}x the textbook form")


if __name__ == "__main__":
    main()
