"""Textbook-set benchmark (issue 11; a figure, not a test): for every result of bench/textbook/,
the size of the derived form (operands, derive.notation.size) against the textbook form's, and the time
to derive+simplify (median of --runs, caches cleared, fresh loads); then the six core problems'
derivation (median) and width 5 against width 500 (best of --runs, the widths taking turns).

    PYTHONPATH=. python bench/bench_textbook.py [--runs 5]

Targets: every result within 1.3x the textbook size, the six core problems under 1 s, width 500
costing the same as width 5. Exits 0 whatever it measures; each target line says PASS or MISS.
"""
from __future__ import annotations

import argparse
import functools
import re
import statistics
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_engine import CORE  # noqa: E402
from mlp import mlp_file  # noqa: E402
from textbook_set import TARGET, forms, fresh_load, problem_files, sizes  # noqa: E402

from derive import solve
from derive.problem import load as problem_mod
from derive.verify import solve as pipeline

CORE_TARGET = 1.0         # seconds, the six core problems derived and simplified
WIDTH_TARGET = 1.5        # width 500 / width 5: "the same", with room for a loaded machine


def cold() -> None:
    """Forget what the library memoized (module-level *_CACHE dicts and lru_caches under derive),
    so no run is helped by the one before. SymPy's own cache stays, as in bench_engine.py."""
    for name, mod in list(sys.modules.items()):
        if not name.startswith("derive") or mod is None:
            continue
        for attr, v in vars(mod).items():
            if isinstance(v, dict) and attr.endswith("_CACHE"):
                v.clear()
            elif isinstance(v, functools._lru_cache_wrapper):
                v.cache_clear()


def derive_time(load, runs: int) -> float:
    """Median seconds of pipeline.derive (derive + simplify) on a fresh load, caches cleared."""
    times = []
    for _ in range(runs):
        cold()
        p = load()
        t = time.perf_counter()
        pipeline.derive(p)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def paired_times(loads: dict, runs: int) -> dict:
    """Best-of-`runs` seconds of pipeline.derive for each load, the loads taking turns, so a
    busy moment on a shared machine cannot fall on one width only."""
    best = {k: float("inf") for k in loads}
    for _ in range(runs):
        for k, load in loads.items():
            cold()
            p = load()
            t = time.perf_counter()
            pipeline.derive(p)
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def at_width(path: Path, old: int, new: int):
    """The problem of `path` with every integer dimension `old` in [symbols] replaced by `new`."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data["symbols"] = {k: [new if d == old else d for d in v] if isinstance(v, list) else v
                       for k, v in data["symbols"].items()}
    data["statement"] = re.sub(rf"\b{old}\b", str(new), data.get("statement", ""))
    return problem_mod.build(data, path)


def textbook_table(runs: int) -> tuple[float, float]:
    by_problem = {}
    for f in problem_files():
        by_problem[f.stem] = (solve(str(f)), derive_time(lambda f=f: fresh_load(f), runs))
    print("| problem | quantity | derived | textbook | ratio | derive+simplify | verified |")
    print("|---|---|---|---|---|---|---|")
    rows, texts = [], []
    for form in forms():
        sol, t = by_problem[form.problem]
        d, tb = sizes(sol, form)
        ratio = d / tb
        ok = sol.check_for(sol.problem.quantity(form.quantity).name).verified
        rows.append((ratio, form))
        print(f"| {form.problem} | {form.quantity} | {d} | {tb} | {ratio:.2f}{'' if ratio <= TARGET else ' *'} "
              f"| {t * 1000:.0f} ms | {'yes' if ok else 'NO'} |")
        from_solve = next(q for q in sol.to_dict()["quantities"] if q["name"] == sol.problem.quantity(form.quantity).name)
        texts.append((form, from_solve["text"]))
    print()
    for form, shown in texts:
        print(f"{form.problem} {form.quantity}")
        print(f"  derived:  {shown}")
        print(f"  textbook: {form.text}")
    worst, wf = max(rows, key=lambda r: r[0])
    total = sum(t for _, t in by_problem.values())
    within = sum(r <= TARGET for r, _ in rows)
    print()
    print(f"worst ratio: {worst:.2f} ({wf.problem} {wf.quantity}); {within}/{len(rows)} results within {TARGET}x")
    print(f"total derive+simplify, {len(by_problem)} textbook problems: {total * 1000:.0f} ms")
    print(f"{'PASS' if worst <= TARGET else 'MISS'}: every result within {TARGET}x the textbook size")
    return worst, total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    [problem_mod.load(p) for p in CORE]               # warm the import of sympy and friends
    print(f"textbook set (median of {args.runs} runs per problem)\n")
    textbook_table(args.runs)
    print()

    paths = [Path(problem_mod.load(p).path) for p in CORE]
    times = []
    for _ in range(args.runs):
        cold()
        loaded = [fresh_load(p) for p in paths]
        t = time.perf_counter()
        for p in loaded:
            pipeline.derive(p)
        times.append(time.perf_counter() - t)
    six = statistics.median(times)
    print(f"derive+simplify, six core problems ({', '.join(CORE)}): {six * 1000:.0f} ms (median of {args.runs})")
    print(f"{'PASS' if six < CORE_TARGET else 'MISS'}: six core problems under {CORE_TARGET:g} s")
    print()

    print(f"derive+simplify at two widths (best of {args.runs}, the widths taking turns)\n")
    print("| problem | width 5 | width 500 | ratio 500/5 |")
    print("|---|---|---|---|")
    worst = 0.0
    p7 = Path(problem_mod.load("tanh-softmax-net").path)
    cases = [("tanh-softmax-net", lambda w: (lambda: at_width(p7, 500, w)))]
    for depth in (2, 10):
        files = {w: mlp_file(depth, w) for w in (5, 500)}
        cases.append((f"mlp depth {depth}", lambda w, files=files: (lambda: fresh_load(files[w]))))
    for label, make in cases:
        t = paired_times({w: make(w) for w in (5, 500)}, args.runs)
        worst = max(worst, t[500] / t[5])
        print(f"| {label} | {t[5] * 1000:.1f} ms | {t[500] * 1000:.1f} ms | {t[500] / t[5]:.2f} |")
    print(f"{'PASS' if worst <= WIDTH_TARGET else 'MISS'}: width 500 costs the same as width 5 "
          f"(worst ratio {worst:.2f}, allowed {WIDTH_TARGET})")


if __name__ == "__main__":
    main()
