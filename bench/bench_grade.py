"""Batch grading benchmark (a figure, not a test): `derive grade` over a synthetic class.

    python bench/bench_grade.py [--rows 10000] [--runs 3] [--big]

Each run is a fresh process (python -m derive.cli grade ... --workers N), so start-up, every
problem's derivation in each worker, and the final report pass are all counted. Figures:
  - answers/s with 1 and 2 workers on 10,000 rows (bench/classroom.py: the problem files' sample
    answers plus wrong and malformed mutations, over the whole catalogue; median of --runs);
  - the same on 2,000 answers that are all different (no answer repeats, so every row is a check);
  - peak RSS of the grading process at 10,000 and, with --big, 100,000 rows (2 workers).
"""
from __future__ import annotations

import argparse
import csv
import json
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
sys.path.insert(0, str(ROOT / "bench"))

import classroom  # noqa: E402


def write_class(path: Path, n: int, distinct: bool = False) -> Path:
    rows = classroom.rows(n, seed=12)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "problem", "quantity", "answer"])
        for i, r in enumerate(rows):
            answer = r["answer"] + " " * (i // 50) if distinct else r["answer"]   # trailing spaces: a new text
            w.writerow([r["student"], r["problem"], r["quantity"], answer])
    return path


def child(src: str, out: str, workers: int) -> None:
    """Inside the measured process: grade, then print the figures as JSON."""
    from derive.batch import run as grade
    t = time.perf_counter()
    o = grade.grade_file(src, out, totals=out + ".totals.csv", summary=out + ".html", workers=workers)
    wall = time.perf_counter() - t
    print(json.dumps({"rows": o.rows, "seconds": o.seconds, "wall": wall, "checked": o.checked,
                      "counts": o.counts,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(src: Path, workers: int, tmp: Path) -> dict:
    out = tmp / f"report-{workers}-{time.monotonic_ns()}.csv"
    t = time.perf_counter()
    p = subprocess.run([sys.executable, __file__, "--child", str(src), str(out), str(workers)],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if p.returncode != 0:
        raise SystemExit(p.stderr)
    d = json.loads(p.stdout.strip().splitlines()[-1])
    d["process"] = time.perf_counter() - t
    return d


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--big", action="store_true", help="also peak RSS at 10x the rows")
    ap.add_argument("--memory-only", action="store_true", help="with --big: only the peak RSS figures")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = write_class(tmp / "class.csv", args.rows)
        distinct = write_class(tmp / "distinct.csv", 2_000, distinct=True)
        print(f"{args.rows:,} rows over the whole catalogue; median of {args.runs} fresh processes each")
        counts = None
        sets = () if args.memory_only else ((f"{args.rows:,} answers", src), ("2,000 all-different answers", distinct))
        for label, f in sets:
            for workers in (1, 2):
                runs = [measure(f, workers, tmp) for _ in range(args.runs)]
                counts = counts or runs[0]["counts"]
                rate = statistics.median(r["rows"] / r["seconds"] for r in runs)
                whole = statistics.median(r["rows"] / r["process"] for r in runs)
                rss = max(r["rss_mb"] for r in runs)
                print(f"  {label}, {workers} worker{'s' if workers > 1 else ' '}: {rate:7,.0f} answers/s grading, "
                      f"{whole:7,.0f} answers/s for the whole process (start-up included), "
                      f"{runs[0]['checked']:,} checks run, peak RSS {rss:.0f} MB")
        if counts:
            print(f"  verdicts of the {args.rows:,} rows: " + ", ".join(f"{n:,} {v}" for v, n in counts.items() if n))
        if args.big:
            big = write_class(tmp / "big.csv", 10 * args.rows)
            small_rss = measure(src, 2, tmp)["rss_mb"]
            r = measure(big, 2, tmp)
            print(f"  peak RSS, 2 workers: {small_rss:.0f} MB at {args.rows:,} rows, {r['rss_mb']:.0f} MB at "
                  f"{10 * args.rows:,} rows ({r['rss_mb'] / small_rss:.2f}x); {10 * args.rows:,} rows took "
                  f"{r['process']:.0f} s ({r['rows'] / r['seconds']:,.0f} answers/s grading)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
