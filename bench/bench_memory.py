"""Worker memory over many checks (a figure, not a test): the resident memory of the checking
worker sampled while one Checker grades the same answer mix for a fixed time, with recycling
(the default: a worker is replaced after MAX_JOBS checks or MAX_RSS_MB of growth) and without.

    python bench/bench_memory.py [--seconds 90] [--max-jobs 2000]
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


def run(seconds: float, max_jobs: int, label: str) -> None:
    data = [r[:3] for r in rows()]
    samples, n, pids = [], 0, set()
    with derive.Checker(workers=1, max_jobs=max_jobs, max_rss_mb=10**6) as c:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            for row in data:
                c.check(*row)
                n += 1
            for pid in c.pool.pids():
                pids.add(pid)
                samples.append((n, rss_mb(pid)))
    first = [m for k, m in samples[: max(1, len(samples) // 10)]]
    last = [m for k, m in samples[-max(1, len(samples) // 10):]]
    print(f"{label}: {n} checks in {seconds:.0f} s, {len(pids)} worker process(es); worker RSS "
          f"first tenth {min(first):.0f}-{max(first):.0f} MB, last tenth {min(last):.0f}-{max(last):.0f} MB, "
          f"max {max(m for _, m in samples):.0f} MB")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=90)
    ap.add_argument("--max-jobs", type=int, default=2000)
    args = ap.parse_args(argv)
    run(args.seconds, args.max_jobs, f"recycled every {args.max_jobs} checks")
    run(args.seconds, 10**9, "never recycled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
