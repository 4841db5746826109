"""Benchmark (a figure, not a test): whole-catalogue sheet to .tex and to PDF.

    python3 bench/bench_sheet.py [--runs 5] [--pdf-runs 3]

Times are medians. "tex (warm)" is rendering with solutions already derived (the cost after
start-up); "tex (cold)" includes deriving and verifying every problem in a fresh cache.
Targets: .tex under 1 s after start-up; PDF under 15 s.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pdf-runs", type=int, default=3)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    from derive.render import pdf as pdf_build, sheet
    startup = time.perf_counter() - t0

    from derive.problem import load as problem

    def cold():
        sheet.solved.cache_clear()
        problem._load_unchanged.cache_clear()
        __import__("derive.notation.latex").notation.latex._latex_cached.cache_clear()
        return sheet.render_sheet(sheet.resolve([], all_=True))

    cold_t = median_time(cold, args.runs)
    sols = sheet.resolve([], all_=True)
    from derive.notation import latex as printer

    def warm():
        printer._latex_cached.cache_clear()
        return sheet.render_sheet(sols)
    warm_t = median_time(warm, args.runs)
    print(f"problems: {len(sols)}   import: {startup:.2f} s")
    print(f"tex (cold: derive + verify + render): {cold_t:.2f} s   median of {args.runs}")
    print(f"tex (warm: render only):              {warm_t:.2f} s   median of {args.runs}")
    engine = pdf_build.tex_engine()
    if engine is None:
        print("pdf: skipped (no TeX engine)")
        return 0
    tex = sheet.render_sheet(sols)
    with tempfile.TemporaryDirectory() as d:
        pdf_t = median_time(lambda: pdf_build.compile_pdf(tex, Path(d) / "all.pdf"), args.pdf_runs)
    print(f"pdf ({engine[0]}, from .tex):           {pdf_t:.2f} s   median of {args.pdf_runs}")
    print(f"pdf total (cold tex + pdf):           {cold_t + pdf_t:.2f} s")
    with tempfile.TemporaryDirectory() as d:        # what a user waits for: a fresh process, start-up included
        cmd = [sys.executable, "-m", "derive.cli", "sheet", "--all", "-o", str(Path(d) / "all.tex")]
        proc_t = median_time(lambda: subprocess.run(cmd, check=True, capture_output=True), args.pdf_runs)
    print(f"derive sheet --all -o all.tex, fresh process: {proc_t:.2f} s   median of {args.pdf_runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
