"""Memory over many checks (a figure, not a test): the resident memory of the checking worker and
of the calling process (which settles plain right answers itself, Checker inline) sampled while
one Checker grades bench_check's answer mix, each text made new every round (trailing spaces), for
a number of checks or a time, with worker recycling (the default: a worker is replaced after
MAX_JOBS checks or MAX_RSS_MB of growth) and without.

    python bench/bench_memory.py [--seconds 90] [--checks N] [--max-jobs 2000] [--only never|recycled]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_check import rows  # noqa: E402

import derive  # noqa: E402


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _range(xs) -> str:
    return f"{min(xs):.0f}-{max(xs):.0f}"


def run(seconds: float, checks: int, max_jobs: int, label: str) -> None:
    data = [r[:3] for r in rows()]
    samples, n, pids, rounds = [], 0, set(), 0       # (checks so far, worker RSS, caller RSS)
    with derive.Checker(workers=1, max_jobs=max_jobs, max_rss_mb=10**6) as c:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds and n < checks:
            pad = " " * (rounds % 97)                # a new text every round (97 rounds apart at most)
            for problem, quantity, answer in data:
                c.check(problem, quantity, answer + pad)
                n += 1
            rounds += 1
            for pid in c.pool.pids():
                pids.add(pid)
                samples.append((n, rss_mb(pid), rss_mb(os.getpid())))
            if rounds % 500 == 0:
                print(f"  {label}: {n} checks, {time.perf_counter() - start:.0f} s, worker {samples[-1][1]:.0f} MB, "
                      f"caller {samples[-1][2]:.0f} MB", flush=True)
        seconds = time.perf_counter() - start
    tenth = max(1, len(samples) // 10)
    first, last = samples[:tenth], samples[-tenth:]
    print(f"{label}: {n} checks in {seconds:.0f} s, {len(pids)} worker process(es); worker RSS first tenth "
          f"{_range([s[1] for s in first])} MB, last tenth {_range([s[1] for s in last])} MB, max "
          f"{max(s[1] for s in samples):.0f} MB; caller RSS first tenth {_range([s[2] for s in first])} MB, "
          f"last tenth {_range([s[2] for s in last])} MB, max {max(s[2] for s in samples):.0f} MB", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=90)
    ap.add_argument("--checks", type=int, default=10**12, help="stop after this many checks (or --seconds)")
    ap.add_argument("--max-jobs", type=int, default=2000)
    ap.add_argument("--only", choices=("never", "recycled"))
    args = ap.parse_args(argv)
    if args.only != "never":
        run(args.seconds, args.checks, args.max_jobs, f"recycled every {args.max_jobs} checks")
    if args.only != "recycled":
        run(args.seconds, args.checks, 10**9, "never recycled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
