"""Step-level grading (grading/steps.py): a whole derivation against its answers checked alone.

    PYTHONPATH=. python bench/bench_steps.py [--runs 5] [--workers 1]

For each golden submission of tests/data/submissions, the median wall-clock time of
check_submission (the checks alone plus, when a step is wrong, the ECF pass in one worker job)
and, in the same run, of checking the same answers one by one with Checker.check / check_answer:
the ratio is the cost of error carried forward. One warm Checker for everything.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from derive import Checker
from derive.batch import answer_file as submission
from derive.grading.steps import check_answer, check_submission

DATA = ROOT / "tests" / "data" / "submissions"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    with Checker(workers=args.workers) as c:
        print(f"{'submission':<22} {'answers':>7} {'alone (s)':>10} {'steps (s)':>10} {'ratio':>6}")
        for f in sorted(DATA.glob("*.txt")):
            lines = submission.read_path(f)
            p = c.load(lines[0].problem)
            answers = submission.for_problem(lines, p)
            check_submission(p, answers, checker=c)            # warm: derive, reference values
            alone, steps = [], []
            for _ in range(args.runs):
                t = time.perf_counter()
                for q, a in answers:
                    check_answer(c, p, q, a)
                alone.append(time.perf_counter() - t)
                t = time.perf_counter()
                check_submission(p, answers, checker=c)
                steps.append(time.perf_counter() - t)
            a, s = statistics.median(alone), statistics.median(steps)
            print(f"{f.stem:<22} {len(answers):>7} {a:>10.3f} {s:>10.3f} {s / a:>6.2f}")


if __name__ == "__main__":
    main()
