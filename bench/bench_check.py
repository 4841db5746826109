"""Checker benchmark (a figure, not a test): latency of derive.check in a warm process over
>= 200 answers (correct, wrong, malformed); a naive baseline, sympy.simplify(a - b) == 0, on the
same parsed pairs (its time and its wrong verdicts); the same answers through Checker(workers=1)
and Checker(workers=2) from 8 threads (answers/s and the ratio); and the cold `derive check`
process against a bare `python -c "import sympy"` in the same run. Then the classes of issue 10
(functions, ambiguous juxtapositions, index notation, mutants made from the derivations): per class,
agreement with the expected verdict, false accepts (must be 0), false rejects, and how often a wrong
answer gets a diagnosis (for mutants: one that names the mistake).

    python bench/bench_check.py [--baseline-timeout 2] [--no-baseline] [--no-concurrent] [--no-cold] [--no-classes]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sympy as sp  # noqa: E402

import derive  # noqa: E402
from derive.engine.backprop import derive as derive_problem
from derive.grading import check, mutants
from derive.grading.key import key_of
from derive.grading.read import AnswerBuilder, indices, parse_answer
from derive.grading.reference import reference
from derive.problem.load import catalogue, load
from derive.runtime import pool
from derive.runtime.workers import Crashed, Timeout

BN_DH = (r"\frac{\gamma_j}{N} (\sigma_j^2 + \epsilon)^{-1/2} \left(N \frac{\partial L}{\partial y_{ij}}"
         r" - \sum_k \frac{\partial L}{\partial y_{kj}} - \hat{h}_{ij} \sum_k \frac{\partial L}{\partial y_{kj}} \hat{h}_{kj}\right)")
# (class, problem, quantity, answer, expected verdict), written as a class would
CLASSES = [
    ("functions", "problem3", "dy/dh", "sech(h/2)^2/4", "correct"),
    ("functions", "problem3", "dy/dh", r"\frac{1}{4}\operatorname{sech}^2(h/2)", "correct"),
    ("functions", "problem3", "dy/dh", r"\frac{1}{4 \cosh^2(h/2)}", "correct"),
    ("functions", "problem3", "dy/dh", "1/(2 + 2 cosh(h))", "correct"),
    ("functions", "problem3", "dy/dh", r"\frac{1}{4}(1 - \tanh^2(h/2))", "correct"),
    ("functions", "problem3", "dy/dh", "exp(-h)/(1 + 2^(-h log_2(e)))^2", "correct"),
    ("functions", "problem3", "dy/dh", r"\frac{\cosh(\operatorname{arsinh}(h))^2 - h^2}{4 \cosh^2(h/2)}", "correct"),
    ("functions", "problem3", "dy/dh", "max(h, h - 1) exp(-h)/(h (1+exp(-h))^2)", "correct"),
    ("functions", "problem3", "dy/dh", r"\operatorname{sgn}(h)^2 \frac{e^{-h}}{(1+e^{-h})^2}", "correct"),
    ("functions", "problem3", "dy/dh", "sech(h)^2/4", "incorrect"),
    ("functions", "problem3", "dy/dh", "cosh(h/2)^2/4", "incorrect"),
    ("functions", "problem3", "dy/dh", "-sech(h/2)^2/4", "incorrect"),
    ("functions", "tanh-softmax-net", "dL/dz1", r"\frac{\partial L}{\partial a_1} \odot \operatorname{sech}^2(z_1)", "correct"),
    ("functions", "tanh-softmax-net", "dL/dz1", "dL/da1 ⊙ cosh(z1)^2", "incorrect"),
    ("functions", "problem5", "dL/dbeta", r"\mathbf{1}_N^\top \frac{\partial L}{\partial y}", "correct"),
    ("functions", "problem5", "dL/dbeta", r"\mathbf{1}^\top \frac{\partial L}{\partial y}", "correct"),
    ("functions", "problem5", "dL/dgamma", r"\mathbf{1}_N^\top \frac{\partial L}{\partial y}", "incorrect"),
    ("functions", "problem8", "dl/dz3", r"\partial \ell / \partial \hat{y}", "correct"),
    ("functions", "softmax-definition", "softmax_i", r"\frac{e^{z_i - \max_k z_k}}{\sum_k e^{z_k - \max_l z_l}}", "correct"),
    ("functions", "softmax-definition", "softmax_i", r"\frac{e^{z_i - \max_k z_k}}{\sum_k e^{z_k}}", "incorrect"),
    ("readings", "problem1", "dL/dx", r"\frac{\partial L}{\partial h_3} f'_3(w_3 f'_1 w_1 + w_4 f'_2 w_2)", "correct"),
    ("readings", "problem1", "dL/dx", r"\frac{\partial L}{\partial h_3} f'_3 (w_3 f'_1 w_1 + w_4 f'_2 w_2)", "correct"),
    ("readings", "problem1", "dL/dx", "dL/dh3 f3'(w3 f1' w1 + w4 f2' w2)", "correct"),
    ("readings", "problem1", "dL/dw3", "dL/dh3 f3' f1", "correct"),
    ("readings", "problem1", "dL/dw4", r"\frac{\partial L}{\partial h_3} f'_3 f_2", "correct"),
    ("readings", "tanh-softmax-net", "dL/dz1", "dL/da1 ⊙ (1 - tanh^2)", "correct"),
    ("readings", "problem1", "dL/dx", "dL/dh3 f3'(w3 f1' w1 - w4 f2' w2)", "incorrect"),
    ("readings", "problem1", "dL/dx", "dL/dh3 f3'(w3 f1' w1)", "incorrect"),
    ("readings", "problem1", "dL/dw3", "dL/dh3 f3' f2", "incorrect"),
    ("readings", "problem1", "dL/dw4", "dL/dh3 f3'(w3 h1 + w4 h2 + b3) h2", "correct"),
    ("index", "problem5", "dL/dbeta", r"\sum_k \frac{\partial L}{\partial y_{kl}}", "correct"),
    ("index", "problem5", "dL/dbeta", r"\sum_{k=1}^{N} \frac{\partial L}{\partial y_{kj}}", "correct"),
    ("index", "problem5", "dL/dbeta", "sum_k dL/dy_kl", "correct"),
    ("index", "problem5", "dL/dgamma", r"\sum_k \frac{\partial L}{\partial y_{kl}} \hat{h}_{kl}", "correct"),
    ("index", "problem5", "dL/dgamma", "sum_k dL/dy_kl hhat_kl", "correct"),
    ("index", "problem5", "dL/dh", BN_DH, "correct"),
    ("index", "problem5", "dL/dh", "gamma_j/N (var_j + eps)^(-1/2) (N dL/dy_ij - sum_k dL/dy_kj - hhat_ij sum_k dL/dy_kj hhat_kj)", "correct"),
    ("index", "problem5", "dL/dh", r"\sum_{k,l} \frac{\partial L}{\partial y_{kl}} \gamma_l (\sigma_l^2+\epsilon)^{-1/2} \left(\delta_{ki}"
                                   r"\delta_{lj} - \frac{\delta_{lj}}{N} - \frac{\hat{h}_{kl}\hat{h}_{il}\delta_{lj}}{N}\right)", "correct"),
    ("index", "problem5", "dL/dbeta", r"\frac{\partial L}{\partial y_{kl}}", "incorrect"),
    ("index", "problem5", "dL/dgamma", r"\sum_k \frac{\partial L}{\partial y_{kl}}", "incorrect"),
    ("index", "problem5", "dL/dh", "-" + BN_DH, "incorrect"),
    ("index", "problem5", "dL/dh", BN_DH.replace(r"\frac{\gamma_j}{N}", r"\gamma_j"), "incorrect"),
    ("index", "problem5", "dL/dh", r"\gamma_j (\sigma_j^2 + \epsilon)^{-1/2} \frac{\partial L}{\partial y_{ij}}", "incorrect"),
    ("index", "problem6", "drho/dW1", "delta2_i x_j", "correct"),
    ("index", "problem6", "delta3", "sigma'(Z2_i) sum_k W3_ki delta4_k", "correct"),
    ("index", "problem4", "dP_j/dh_i", "P_j (1(i=j) - P_i)", "correct"),
    ("index", "problem4", "dP_j/dh_i", "P_j (1(i=j) + P_i)", "incorrect"),
]

ROOT = Path(__file__).resolve().parent.parent

# (problem, quantity, a correct answer): each also yields wrong and malformed variants
CORRECT = [
    ("problem1", "dL/dw1", r"\frac{\partial L}{\partial h_3} f'_3 w_3 f'_1 x"),
    ("problem1", "dL/dw1", "dL/dh3 f3' w3 f1' x"),
    ("problem1", "dL/dw2", "dL/dh3 f3' w4 f2' x"),
    ("problem1", "dL/dw3", "dL/dh3 f3' h1"),
    ("problem1", "dL/dw4", "dL/dh3 f3'(w3 h1 + w4 h2 + b3) h2"),
    ("problem1", "dL/db1", "dL/dh3 f3' w3 f1'"),
    ("problem1", "dL/db3", "dL/dh3 f3'"),
    ("problem1", "dL/dx", "dL/dh3 f3' (w3 f1' w1 + w4 f2' w2)"),
    ("problem2", "z", "0.62"),
    ("problem2", "u1", "-0.08"),
    ("problem2", "dz/dw0", "-0.2"),
    ("problem2", "dz/dw1", "x1 relu'(v1)"),
    ("problem2", "dz/dx0", "0.94"),
    ("problem3", "dy/dz", "0"),
    ("problem3", "dy/dh", "sigma(h)(1-sigma(h))"),
    ("problem3", "dy/dx", r"\frac{2 e^{-h}}{(1+e^{-h})^2}"),
    ("problem4", "dL/dh_i", "P(y=i) - y_i"),
    ("problem4", "dP_j/dh_i", "delta_ij P_j - P_i P_j"),
    ("problem5", "dL/dbeta", "sum(dL/dy, 0)"),
    ("problem5", "dL/dgamma", "sum(dL/dy ⊙ hhat, 0)"),
    ("problem6", "delta4", "2(f - y)"),
    ("problem6", "drho/dW3", "delta4 H2^T"),
    ("problem6", "delta3", r"\sigma'(Z^2) \odot (W^3)^T \delta^4"),
    ("problem6", "drho/dW2", "delta3 H1^T"),
    ("problem6", "delta2", "sigma'(Z1) ⊙ (W2^T delta3)"),
    ("problem6", "drho/dW1", "delta2 x^T"),
    ("problem6", "drho/db1", "delta2"),
]


def variants(p, q, a):
    """(problem, quantity, answer, expected) rows: the answer, four wrong ones, three malformed."""
    yield p, q, a, "correct"
    wrong = (f"-({a})", f"2*({a})", f"({a}) + 1", f"({a})*({a})") if a != "0" else ("1", "x", "2 x", "x^2")
    for w in wrong:
        yield p, q, w, "incorrect"
    for m in (f"{a} +", f"({a}", f"{a} w99"):
        yield p, q, m, "invalid"


def rows():
    out = [r for c in CORRECT for r in variants(*c)]
    return out


def naive(p, qname, answer):
    """simplify(answer - reference) == 0, with the answer's named gradients substituted."""
    ref = reference(key_of(p))
    r = ref.derivation.result(qname)
    tree = parse_answer(p, answer)
    size = r.closed.shape[0] if hasattr(r.closed, "shape") else None
    expr = AnswerBuilder(p.scope, answer, indices(r.quantity), size).build(tree)
    subs = {sym: closed for _, (sym, _, closed) in ref.derivation.adjoints.items()}
    for _ in range(len(subs) + 1):
        new = expr.xreplace(subs) if isinstance(expr, sp.Basic) else expr
        if new == expr:
            break
        expr = new
    diff = expr - r.closed
    out = sp.simplify(diff)
    return bool(out == 0 or getattr(out, "is_ZeroMatrix", False) or out == sp.ZeroMatrix(*diff.shape)
                if hasattr(diff, "shape") else out == 0)


def mutant_rows(per_kind=1):
    """(class "mutants", problem, quantity, text, "incorrect", codes that name it) for the catalogue."""
    out = []
    for p in catalogue():
        if not any(q.graded and q.kind.mutated for q in p.quantities):
            continue
        d = derive_problem(p)
        for r in mutants.graded_results(d):
            seen = {}
            for m in mutants.distinct(d, r, mutants.mutants(d, r)):
                seen[m.kind] = seen.get(m.kind, 0) + 1
                if seen[m.kind] <= per_kind:
                    out.append(("mutants", p.id, r.quantity.name, m.text, "incorrect", m.codes))
    return out


def percentile(times, q):
    times = sorted(times)
    return times[min(len(times) - 1, int(round(q * (len(times) - 1))))]


def classes_report(rows):
    """Per class: agreement, false accepts, false rejects, diagnosis rate, latency."""
    for row in rows[::7]:                                  # warm: one check per problem and quantity
        check(row[1], row[2], row[3])
    stats = {}
    for row in rows:
        cls, p, q, a, want = row[:5]
        t = time.perf_counter()
        r = check(p, q, a)
        dt = time.perf_counter() - t
        s = stats.setdefault(cls, dict(n=0, agree=0, fa=0, fr=0, wrong=0, diag=0, times=[], misses=[]))
        s["n"] += 1
        s["times"].append(dt)
        s["agree"] += r.verdict == want
        s["fa"] += r.verdict == "correct" and want != "correct"
        s["fr"] += want == "correct" and r.verdict != "correct"
        if want == "incorrect" and r.verdict == "incorrect":
            s["wrong"] += 1
            named = bool(set(r.diagnosis) & row[5]) if len(row) > 5 else bool(r.diagnosis)
            s["diag"] += named
        if r.verdict != want:
            s["misses"].append((p, q, a[:60], want, r.verdict))
    print("issue-10 classes (warm process):")
    print(f"  {'class':10} {'answers':>7} {'agree':>6} {'false acc':>9} {'false rej':>9} {'diagnosed':>10} "
          f"{'median':>8} {'p99':>8}")
    for cls, s in stats.items():
        print(f"  {cls:10} {s['n']:7d} {s['agree']:6d} {s['fa']:9d} {s['fr']:9d} "
              f"{s['diag']:4d}/{s['wrong']:<5d} {statistics.median(s['times']) * 1e3:6.2f}ms {percentile(s['times'], .99) * 1e3:6.2f}ms")
        for miss in s["misses"]:
            print("    ", miss)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--baseline-timeout", type=float, default=2.0)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-concurrent", action="store_true")
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (the median is reported)")
    ap.add_argument("--no-classes", action="store_true", help="skip the issue-10 classes and the mutants")
    args = ap.parse_args(argv)
    data = rows()
    problems = {p: load(p) for p, _, _, _ in data}
    for p, q, a, _ in data[:: 8]:                 # warm: one check per problem loads and derives it
        check(p, q, a)
    times, wrong, by_kind = [], [], {}
    for p, q, a, want in data:
        t = time.perf_counter()
        r = check(p, q, a)
        times.append(time.perf_counter() - t)
        by_kind.setdefault(want, []).append(times[-1])
        if r.verdict != want:
            wrong.append((p, q, a, want, r.verdict))
    times.sort()
    n = len(times)
    p99 = times[min(n - 1, int(round(0.99 * (n - 1))))]
    print(f"derive.check, warm process: {n} answers "
          f"({sum(w == 'correct' for *_, w in data)} correct, {sum(w == 'incorrect' for *_, w in data)} wrong, "
          f"{sum(w == 'invalid' for *_, w in data)} malformed)")
    print(f"  median {statistics.median(times) * 1e3:.2f} ms   p99 {p99 * 1e3:.2f} ms   "
          f"max {times[-1] * 1e3:.2f} ms   total {sum(times):.2f} s")
    print("  median by kind: " + ", ".join(f"{k} {statistics.median(v) * 1e3:.2f} ms"
                                          for k, v in sorted(by_kind.items())))
    print(f"  verdicts different from the expected one: {len(wrong)}")
    for w in wrong:
        print("   ", w)
    if not args.no_concurrent:
        concurrent(data, args.runs)
    if not args.no_cold:
        cold(args.runs)
    if not args.no_classes:
        classes_report(CLASSES + mutant_rows())
    if args.no_baseline:
        return 0
    parsed = [(p, q, a, want) for p, q, a, want in data if want != "invalid"]
    btimes, bwrong, btimeouts, berrors = [], 0, 0, 0
    for p, q, a, want in parsed:
        t = time.perf_counter()
        out = pool.run(naive, (problems[p], q, a), timeout=args.baseline_timeout)
        btimes.append(time.perf_counter() - t)
        if isinstance(out, Timeout):
            btimeouts += 1
        elif isinstance(out, Crashed):
            berrors += 1
        elif (want == "correct") != out.value:
            bwrong += 1
    btimes.sort()
    print(f"naive baseline sympy.simplify(a - b) == 0 on the {len(parsed)} parsed pairs "
          f"(capped at {args.baseline_timeout:g} s each):")
    print(f"  median {statistics.median(btimes) * 1e3:.1f} ms   max {btimes[-1] * 1e3:.0f} ms   "
          f"total {sum(btimes):.1f} s")
    print(f"  wrong verdicts {bwrong}, timeouts {btimeouts}, errors {berrors} "
          f"(of {len(parsed)}; derive.check: {sum(1 for w in wrong if w[3] != 'invalid')} wrong)")
    return 0


def concurrent(data, runs: int) -> None:
    """The same answers from 8 threads through one and through two workers."""
    want = [check(p, q, a).verdict for p, q, a, _ in data]
    rates, busy = {}, {}
    for workers in (1, 2):
        with derive.Checker(workers=workers) as c:
            with ThreadPoolExecutor(8) as ex:
                list(ex.map(lambda row: c.check(*row[:3]), data))          # warm every worker
                got, times = None, []
                cpu0, wall0 = _cpu(c.pool.pids()), time.perf_counter()
                for _ in range(runs):
                    t = time.perf_counter()
                    got = [r.verdict for r in ex.map(lambda row: c.check(*row[:3]), data)]
                    times.append(time.perf_counter() - t)
                busy[workers] = (_cpu(c.pool.pids()) - cpu0) / (time.perf_counter() - wall0)
            assert got == want, "concurrent verdicts differ from sequential ones"
            rates[workers] = len(data) / statistics.median(times)
    print(f"Checker from 8 threads, {len(data)} answers, median of {runs}: workers=1 {rates[1]:.0f} answers/s, "
          f"workers=2 {rates[2]:.0f} answers/s, ratio {rates[2] / rates[1]:.2f} (verdicts identical to sequential); "
          f"CPU seconds the workers got per second: {busy[1]:.2f} and {busy[2]:.2f} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def _cpu(pids) -> float:
    """utime + stime of these processes, in seconds (Linux)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def cold(runs: int) -> None:
    """A fresh `derive check` process against a fresh `python -c "import sympy"`, interleaved."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmds = {"import sympy": [sys.executable, "-c", "import sympy"],
            "derive check": [sys.executable, "-m", "derive.cli", "check", "problem1", "dL/dw1", "dL/dh3 f3' w3 f1' x"]}
    times = {k: [] for k in cmds}
    for _ in range(runs):
        for k, cmd in cmds.items():
            t = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, check=k == "import sympy")
            times[k].append(time.perf_counter() - t)
    a, b = (statistics.median(times[k]) for k in cmds)
    print(f"cold process, median of {runs}: python -c 'import sympy' {a:.2f} s, derive check {b:.2f} s, "
          f"ratio {b / a:.2f}")


if __name__ == "__main__":
    sys.exit(main())
