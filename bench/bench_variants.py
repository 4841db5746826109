"""Benchmark (a figure, not a test): variants and 30-student roster sheets.

    python3 bench/bench_variants.py [--runs 3] [--students 30]

1. instantiate + solve + verify one variant of each varying catalogue problem (median over
   seeds, caches cleared), beside solve + verify of the base problem in the same run (the ratio);
2. `derive sheet residual-relu --roster R.csv` for a 30-student roster, questions and keys, as a
   fresh process (start-up, 30 variants solved, rendering, one pdflatex run): median of --runs,
   wall clock and CPU time (process and pdflatex; on a shared machine the wall clock mostly
   measures the other processes).
Target: each roster PDF under 15 s.
"""
from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARYING = ["residual-relu", "dense-shapes-params", "conv-output-size", "xavier-init", "bounded-activation",
           "two-layer-classification", "two-layer-classification-relu"]


def per_variant(pid: str, seeds: range) -> tuple[float, float]:
    import derive
    from derive import variants as V
    base = derive.load(pid)
    times, base_times = [], []
    for seed in seeds:
        V._DRAWN.clear()
        V._structure_of_file.cache_clear()
        t = time.perf_counter()
        sol = derive.solve(V.instantiate(base, seed))
        times.append(time.perf_counter() - t)
        assert sol.verified
        t = time.perf_counter()
        derive.solve(base)
        base_times.append(time.perf_counter() - t)
    return statistics.median(times), statistics.median(base_times)


def roster_pdf(students: int, runs: int) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        roster = Path(tmp) / "roster.csv"
        with roster.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "name"])
            w.writerows([f"s{i:03d}", f"Student {i}"] for i in range(students))
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        for flag in ("--questions", "--solutions"):
            times, cpus = [], []
            for _ in range(runs):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "derive.cli", "sheet", "residual-relu", "--roster", str(roster),
                                "--salt", "bench", flag, "-o", str(Path(tmp) / "out.pdf")],
                               check=True, env=env, capture_output=True)
                times.append(time.perf_counter() - t)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)   # python + pdflatex, user + system
                cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            out[flag] = (statistics.median(times), statistics.median(cpus))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)")
    print(f"{'problem':<32} {'variant':>10} {'base':>10} {'ratio':>6}")
    for pid in VARYING:
        v, b = per_variant(pid, range(args.seeds))
        print(f"{pid:<32} {v * 1000:>8.0f} ms {b * 1000:>7.0f} ms {v / b:>6.2f}")
    for flag, (t, cpu) in roster_pdf(args.students, args.runs).items():
        print(f"{args.students}-student roster, {flag[2:]}: {t:.1f} s to the PDF, {cpu:.1f} s of CPU "
              f"(fresh process, median of {args.runs}; CPU time is the wall time on an idle core)")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
