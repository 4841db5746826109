"""Load on `derive serve`: 200 concurrent clients send 2,000 POST /api/check requests in all
(a mix of right, wrong and malformed answers) to a server on loopback with 2 checking workers.

Prints throughput, latency p50/p99/max, errors (non-200 answers or failed connections; target 0),
wrong verdicts (against the verdicts the seeds and the README give; target 0) and the server's
resident memory (the web process, and with its checking workers) before and after each run.
The server runs as a separate process (`python -m derive.cli serve`) with the rate limit off,
since every client here shares one address. Bounded: each request times out after 30 s and a
run stops after --max-seconds.

    python bench/bench_serve.py [--runs 3] [--clients 200] [--requests 2000] [--workers 2] [--distinct]

--distinct: every request a different answer over the whole catalogue instead of the 12 above
(bench/classroom.py's synthetic class, as bench_grade.py's distinct set: sample answers, wrong
and malformed mutations); a wrong verdict is then counted where the problem file gives one.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (problem, quantity, answer, verdict): right, wrong and malformed answers from the seeds and README
MIX = [
    ("problem6", "drho/dW1", "delta2 x^T", "correct"),
    ("problem6", "drho/dW1", "x delta2^T", "incorrect"),                 # the transpose
    ("problem6", "drho/dW1", "delta2 x^", "invalid"),                    # malformed
    ("problem6", "delta2", "(W2^T delta3) .* sigma'(Z1)", "correct"),
    ("problem6", "delta2", "W2 delta3 .* sigma'(Z1)", "incorrect"),    # W2 where W2^T belongs
    ("problem1", "dL/dw1", r"\frac{\partial L}{\partial h_3} f'_3 w_3 f'_1 x", "correct"),   # seed 000's answer
    ("problem1", "dL/dx", "dL/dh3 f3' w3 f1' w1", "incorrect"),          # a path missing
    ("problem1", "dL/dw1", "dL/dh3 * * x", "invalid"),                   # malformed
    ("problem2", "z", "0.62", "correct"),
    ("problem2", "z", "0", "incorrect"),                                 # seed 004's printed z = 0
    ("problem2", "u1", "-0.8", "incorrect"),                             # seed 004's printed u1 = -0.8
    ("problem2", "u1", "((", "invalid"),                                 # malformed
]


def rss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    m = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(m[1]) if m else 0


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(stat.parent.name)
            out += [child] + children(child)
    return out


def memory(pid: int) -> tuple[float, float]:
    """(web process MiB, web process + checking workers MiB)."""
    own = rss_kib(pid)
    return own / 1024, (own + sum(rss_kib(c) for c in children(pid))) / 1024


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_split(pid: int) -> tuple[float, float, float]:
    """CPU seconds so far: (web process, its checking workers, this benchmark's clients)."""
    return cpu_s(pid), sum(cpu_s(c) for c in children(pid)), cpu_s(os.getpid())


def start_server(workers: int):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "derive.cli", "serve", "--port", "0", "--workers", str(workers),
                             "--rate-limit", "0", "--log-level", "warning"], stdout=subprocess.PIPE, text=True, env=env)
    m = re.search(r"http://127\.0\.0\.1:(\d+)/", proc.stdout.readline())
    if not m:
        proc.kill()
        raise SystemExit("the server did not start")
    return proc, int(m[1])


def client(port: int, jobs: list, results: list, deadline: float):
    conn = None
    for problem, quantity, answer, verdict in jobs:
        if time.monotonic() > deadline:
            results.append(("timeout", 0.0, None))
            continue
        body = json.dumps({"problem": problem, "quantity": quantity, "answer": answer})
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/api/check", body=body, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            dt = time.perf_counter() - t0
            got = json.loads(data).get("verdict") if r.status == 200 else None
            results.append((r.status, dt, verdict is None or got == verdict))
            if r.status == 200 and verdict is not None and got != verdict:
                print(f"  wrong verdict: {problem} {quantity} {answer!r}: {got} {json.loads(data)['feedback']}",
                      file=sys.stderr)
        except (OSError, http.client.HTTPException, ValueError) as e:
            results.append((type(e).__name__, time.perf_counter() - t0, None))
            conn = None
    if conn is not None:
        conn.close()


def distinct(requests: int, seed: int) -> list[tuple]:
    """`requests` (problem, quantity, answer, verdict or None) over the whole catalogue, no two alike."""
    sys.path.insert(0, str(ROOT / "bench"))
    import classroom
    return [(r["problem"], r["quantity"], r["answer"] + " " * (i // 50), r["expected"] or None)
            for i, r in enumerate(classroom.rows(requests, seed=seed))]


def load(port: int, clients: int, requests: int, max_seconds: float, jobs: list | None = None) -> dict:
    jobs = jobs or [MIX[k % len(MIX)] for k in range(requests)]
    per = [[jobs[c + k * clients] for k in range(requests // clients + (c < requests % clients))]
           for c in range(clients)]
    results: list = []
    deadline = time.monotonic() + max_seconds
    threads = [threading.Thread(target=client, args=(port, jobs, results, deadline)) for jobs in per]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = sorted(dt for status, dt, _ in results if status == 200)
    return {"requests": len(results), "wall_s": wall, "throughput": len(results) / wall,
            "p50_ms": 1000 * lat[len(lat) // 2] if lat else float("nan"),
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
            "max_ms": 1000 * lat[-1] if lat else float("nan"),
            "errors": sum(1 for status, _, _ in results if status != 200),
            "wrong_verdicts": sum(1 for status, _, ok in results if status == 200 and not ok)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--distinct", action="store_true", help="every request a different answer, whole catalogue")
    args = ap.parse_args()
    proc, port = start_server(args.workers)
    try:
        # the first checks fork the workers and derive the problems (distinct: one answer per question)
        first = list({(p, q): (p, q, a, v) for p, q, a, v in distinct(4000, 99)}.values()) if args.distinct else MIX * 2
        warm = load(port, min(len(first), 50), len(first), 300, first)
        assert warm["errors"] == 0 and warm["wrong_verdicts"] == 0, warm
        print(f"server pid {proc.pid} on port {port}, {args.workers} workers; warm-up {warm['wall_s']:.1f} s")
        what = ("all different, over the whole catalogue: right, wrong, malformed" if args.distinct
                else f"{len(MIX)} answers: right, wrong, malformed")
        print(f"{args.clients} concurrent clients, {args.requests} POST /api/check per run ({what})\n")
        print(f"{'run':>3} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6} {'wrong':>5} "
              f"{'RSS MiB web (+workers) before -> after':>40}")
        runs = []
        for i in range(args.runs):
            before, cpu0 = memory(proc.pid), cpu_split(proc.pid)
            r = load(port, args.clients, args.requests, args.max_seconds,
                     distinct(args.requests, seed=i) if args.distinct else None)
            after, cpu1 = memory(proc.pid), cpu_split(proc.pid)
            r["cpu_ms"] = [1000 * (b - a) / r["requests"] for a, b in zip(cpu0, cpu1)]
            r.update(before=before, after=after)
            runs.append(r)
            print(f"{i + 1:>3} {r['throughput']:>7.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['max_ms']:>7.0f} "
                  f"{r['errors']:>6} {r['wrong_verdicts']:>5}      {before[0]:.0f} ({before[1]:.0f}) -> "
                  f"{after[0]:.0f} ({after[1]:.0f})")
        med = {k: statistics.median(r[k] for r in runs) for k in ("throughput", "p50_ms", "p99_ms", "max_ms")}
        cpu = [statistics.median(r["cpu_ms"][k] for r in runs) for k in range(3)]
        print(f"\nCPU per request (median): web process {cpu[0]:.1f} ms, checking workers {cpu[1]:.1f} ms, "
              f"benchmark clients {cpu[2]:.1f} ms")
        print(f"machine load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
              f"on {os.cpu_count()} cores")
        print(f"median of {len(runs)} runs: {med['throughput']:.0f} checks/s, p50 {med['p50_ms']:.1f} ms, "
              f"p99 {med['p99_ms']:.1f} ms, max {med['max_ms']:.0f} ms; errors {sum(r['errors'] for r in runs)}, "
              f"wrong verdicts {sum(r['wrong_verdicts'] for r in runs)}; RSS web {runs[0]['before'][0]:.0f} -> "
              f"{runs[-1]['after'][0]:.0f} MiB, with workers {runs[0]['before'][1]:.0f} -> {runs[-1]['after'][1]:.0f} MiB")
    finally:
        proc.terminate()
        proc.wait(20)


if __name__ == "__main__":
    main()
