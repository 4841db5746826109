"""Engine benchmark (a figure, not a test): solve+verify of the six core problems, and
derivation of generated L-layer MLPs at widths 5 and 500. Median of several cold runs.

    python bench/bench_engine.py [--runs 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlp import mlp_file  # noqa: E402

from derive import solve
from derive.engine import backprop
from derive.problem.load import load, load_file

CORE = [f"problem{i}" for i in range(1, 7)]


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        sys.modules["derive.engine.simplify.tidy"]._TIDY_CACHE.clear()   # cold: no memo carried between runs
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    [load(p) for p in CORE]                      # warm the import of sympy and friends
    six = timed(lambda: [solve(p) for p in CORE], args.runs)
    print(f"solve + verify, six core problems: {six * 1000:.0f} ms (median of {args.runs})")
    print()
    print("| depth | width 5 | width 500 | ratio 500/5 |")
    print("|---|---|---|---|")
    for depth in (2, 10, 50):
        files = {w: load_file(mlp_file(depth, w)) for w in (5, 500)}
        t = {w: timed(lambda w=w: backprop.derive(files[w]), args.runs) for w in (5, 500)}
        print(f"| {depth} | {t[5] * 1000:.1f} ms | {t[500] * 1000:.1f} ms | {t[500] / t[5]:.2f} |")


if __name__ == "__main__":
    main()
