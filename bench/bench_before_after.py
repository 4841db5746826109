"""Before / after in one run (a figure, not a test): the same measurements on an earlier commit and
on this tree, interleaved round by round so that the machine's load falls on both alike.

    python bench/bench_before_after.py [--before 0d7a4ca] [--rounds 5]

Figures (medians): warm check (ms per check through a warm Checker, problem6 answers), cold check
(a fresh `derive check` process), grade (answers/s, a 2,000-row class, 2 workers, fresh process),
sheet (a fresh `derive sheet --all -o FILE.tex`). The earlier commit is checked out into a
temporary git worktree; each measurement is a subprocess with PYTHONPATH set to one tree.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

WARM = """
import json, time, statistics, derive
answers = [("problem6", "drho/dW1", "delta2 x^T"), ("problem6", "drho/dW1", "x delta2^T"),
           ("problem6", "delta3", "sigma'(Z2) ⊙ (W3^T delta4)"), ("problem1", "dL/dw1", "x")]
with derive.Checker(workers=1) as c:
    for a in answers:
        c.check(*a)
    times = []
    for _ in range(50):
        for a in answers:
            t = time.perf_counter(); c.check(*a); times.append(time.perf_counter() - t)
print(json.dumps(statistics.median(times) * 1000))
"""

GRADE = """
import json, sys, time
try:
    from derive.batch.run import grade_file
except ImportError:
    from derive.grade import grade_file
o = grade_file(sys.argv[1], sys.argv[2], workers=2)
print(json.dumps(o.rows / o.seconds))
"""


def run(tree: Path, args: list, env_extra=None) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(tree), **(env_extra or {}))
    t = time.perf_counter()
    p = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=tree, env=env)
    wall = time.perf_counter() - t
    if p.returncode not in (0, 1):
        raise SystemExit(f"{tree}: {' '.join(args[:3])}: {p.stderr[-2000:]}")
    return wall, p.stdout


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="0d7a4ca")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    import bench_grade
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        old = d / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.before],
                       check=True, capture_output=True)
        try:
            klass = bench_grade.write_class(d / "class.csv", 2000)
            trees = {"before": old, "after": ROOT}
            figures = {k: {"warm check ms": [], "cold check s": [], "grade answers/s": [], "sheet s": []}
                       for k in trees}
            for i in range(args.rounds):
                for name, tree in (trees.items() if i % 2 == 0 else reversed(trees.items())):
                    f = figures[name]
                    f["warm check ms"].append(json.loads(run(tree, ["-c", WARM])[1]))
                    f["cold check s"].append(run(tree, ["-c", "import sys; from derive.cli import main; "
                                                        "sys.exit(main())", "check", "problem6", "drho/dW1",
                                                        "delta2 x^T"])[0])
                    out = d / f"report-{name}-{i}.csv"
                    f["grade answers/s"].append(json.loads(run(tree, ["-c", GRADE, str(klass), str(out)])[1]))
                    f["sheet s"].append(run(tree, ["-c", "import sys; from derive.cli import main; sys.exit(main())",
                                                   "sheet", "--all", "-o", str(d / f"all-{name}-{i}.tex"),
                                                   "--force"])[0])
            print(f"{'figure':<18} {'before':>10} {'after':>10} {'after/before':>13}   (median of {args.rounds})")
            for k in figures["before"]:
                b, a = statistics.median(figures["before"][k]), statistics.median(figures["after"][k])
                print(f"{k:<18} {b:>10.3f} {a:>10.3f} {a / b:>13.2f}")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
