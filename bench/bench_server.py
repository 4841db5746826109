"""The course server under a class: N identified students (personal tokens from a roster) checking
at once against `derive serve --roster ... --db ...` (SQLite, then PostgreSQL when --pg is given),
then the same load with the server killed (SIGKILL to its whole process group, checking workers
included) in the middle and started again on the same port.

Each student opens a connection, waits at a barrier so all start together, then sends --checks
checks (a mix of right, wrong and malformed answers to problem1, and to problem2 whose variant is
the student's own), thinking a random --think seconds between them. Every check carries an
Idempotency-Key; a check whose answer was lost (the server died) is sent again with the same key.
At the end the database is read directly: an acknowledged attempt (HTTP 200 with its id) that is
not in it is LOST; a key stored twice is DUPLICATED (both targets 0).

    python bench/bench_server.py [--students 400] [--checks 5] [--think 1-3] [--workers 2] [--pg URL]
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from bench_serve import cpu_split  # noqa: E402  (this folder is on sys.path: run here, or by tests/conftest.py)

SALT = "bench"
RIGHT = "dL/dh3*f3'(b3 + h1*w3 + h2*w4)"
MIX = [("problem1", "dL/db3", RIGHT), ("problem1", "dL/db3", "-" + RIGHT), ("problem1", "dL/db3", "dL/dh3 * * x"),
       ("problem1", "dL/dw3", "dL/dh3*h1*f3'(b3 + h1*w3 + h2*w4)"), ("problem2", "z", "0"),
       ("problem2", "dz/dw0", "1"), ("problem2", "u1", "((")]


def start(db: str, folder: Path, port: int = 0, workers: int = 2):
    """A `derive serve` course server process (its own process group) -> (process, port)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DERIVE_SECRET": "bench secret, not for production use"}
    proc = subprocess.Popen([sys.executable, "-m", "derive.cli", "serve", "--port", str(port), "--workers",
                             str(workers), "--roster", str(folder / "roster.csv"), "--salt", SALT, "--db", db,
                             "--log-level", "warning", "--instructor-token", "bench-instructor-token-0123"],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=folder, start_new_session=True)
    m = re.search(r"http://127\.0\.0\.1:(\d+)/", proc.stdout.readline())
    if not m:
        kill(proc)
        raise SystemExit("the server did not start")
    threading.Thread(target=proc.stdout.read, daemon=True).start()       # drain the rest
    return proc, int(m[1])


def kill(proc) -> None:
    """SIGKILL to the server and its checking workers, as `kill -9` of the whole service would."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


def roster(folder: Path, students: int) -> list[str]:
    ids = [f"st{i:04d}" for i in range(students)]
    (folder / "roster.csv").write_text("id,name\n" + "".join(f"{i},Student {i}\n" for i in ids))
    return ids


class Run:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked: dict = {}           # key -> attempt id
        self.latency: list = []         # seconds, of acknowledged checks
        self.first: list = []           # the same, of each student's first check (all sent at once)
        self.rest: list = []            # ... and of the others
        self.errors: list = []          # non-200 answers and failures while the server was up
        self.down_failures = 0          # connections refused or cut while the server was down (retried)
        self.down = threading.Event()
        self.generation = 0             # server processes started before the current one
        self.port = 0


def student(run: Run, sid: str, token: str, checks: int, think: tuple, barrier, seed: int, give_up: float):
    rng = random.Random(seed)
    conn, born = None, 0
    barrier.wait()
    for k in range(checks):
        problem, quantity, answer = MIX[rng.randrange(len(MIX))]
        key = f"bench-{sid}-{k}"
        body = json.dumps({"problem": problem, "quantity": quantity, "answer": answer})
        while time.monotonic() < give_up:
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", run.port, timeout=30)
                    born = run.generation
                conn.request("POST", "/api/check", body=body, headers={
                    "Content-Type": "application/json", "Authorization": f"Bearer {token}", "Idempotency-Key": key})
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:
                conn = None
                with run.lock:      # a connection to the killed process fails when next used: the kill's doing
                    if run.down.is_set() or born != run.generation:
                        run.down_failures += 1
                    else:
                        run.errors.append(f"{type(e).__name__} {e}"[:80])
                time.sleep(0.2)
                continue
            with run.lock:
                if r.status == 200:
                    run.acked[key] = json.loads(data)["attempt"]
                    run.latency.append(time.perf_counter() - t0)
                    (run.first if k == 0 else run.rest).append(time.perf_counter() - t0)
                else:
                    run.errors.append(f"{r.status} {data[:60]!r}")
            if r.status == 200:
                break
            time.sleep(0.2)
        time.sleep(rng.uniform(*think))
    if conn is not None:
        conn.close()


def load(db: str, folder: Path, students: int, checks: int, think: tuple, workers: int = 2,
         kill_after: float | None = None, max_seconds: float = 600) -> dict:
    """One run against a fresh server on `db`; with kill_after (a fraction of the checks acknowledged),
    kill -9 it then and start it again."""
    from derive.serve.students import Tokens
    ids = roster(folder, students)
    proc, port = start(db, folder, 0, workers)
    run = Run()
    run.port = port
    tokens = Tokens(b"bench secret, not for production use")
    barrier = threading.Barrier(students + 1)
    give_up = time.monotonic() + max_seconds
    threads = [threading.Thread(target=student, args=(run, sid, tokens.make(sid), checks, think, barrier, i, give_up))
               for i, sid in enumerate(ids)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    restart_s = None
    cpu0 = cpu_split(proc.pid)
    try:
        if kill_after is not None:       # a fraction of all the checks acknowledged: then kill -9
            while len(run.acked) < kill_after * students * checks and any(t.is_alive() for t in threads):
                time.sleep(0.01)
            with run.lock:
                run.down.set()
                run.generation += 1
                acked_at_kill = len(run.acked)
            kill(proc)
            kill_s = time.perf_counter() - t0
            r0 = time.perf_counter()
            proc, _ = start(db, folder, port, workers)
            restart_s = time.perf_counter() - r0
            time.sleep(0.5)                 # requests cut by the kill may still fail; then any failure is an error
            run.down.clear()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        cpu1 = cpu_split(proc.pid)
    finally:
        kill(proc)
    stored = count_keys(db)
    lat = sorted(run.latency)
    out = {"students": students, "checks": len(run.acked), "wall_s": wall, "rate": len(run.acked) / wall,
           "p50_ms": 1000 * lat[len(lat) // 2] if lat else None,
           "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
           "max_ms": 1000 * lat[-1] if lat else None, "errors": len(run.errors),
           "error_kinds": collections.Counter(run.errors).most_common(3),
           "cpu_ms": [1000 * (b - a) / max(1, len(run.acked)) for a, b in zip(cpu0, cpu1)],
           "p99_first_ms": _p99(run.first), "p99_rest_ms": _p99(run.rest),
           "lost": sum(1 for k in run.acked if k not in stored),
           "duplicated": sum(1 for n, _ in stored.values() if n > 1),
           "stored": sum(n for n, _ in stored.values()),
           "unanswered_but_stored": sum(1 for k in stored if k not in run.acked),
           "other_id": sum(1 for k, i in run.acked.items() if k in stored and stored[k][1] != i)}
    if kill_after is not None:
        out.update(killed_after_s=round(kill_s, 1), acked_at_kill=acked_at_kill, restart_s=restart_s,
                   refused_while_down=run.down_failures)
    return out


def _p99(xs):
    xs = sorted(xs)
    return 1000 * xs[min(len(xs) - 1, int(len(xs) * 0.99))] if xs else None


def count_keys(db: str) -> dict:
    """client key -> (rows stored under it, the attempt id)."""
    from derive.serve.attempts import Store
    s = Store(db)
    try:
        return {k: (n, i) for k, n, i in s.execute("SELECT client_key, COUNT(*), MIN(id) FROM attempts WHERE "
                                                   "client_key LIKE 'bench-%' GROUP BY client_key")}
    finally:
        s.close()


def fresh_pg(url: str, name: str) -> str:
    """A new empty schema in the PostgreSQL database `url`, as a URL whose search_path is it."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        c.execute(f"CREATE SCHEMA {name}")
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{name}"


def show(label: str, r: dict) -> None:
    line = (f"{label:<28} {r['checks']:>5} checks in {r['wall_s']:5.1f} s ({r['rate']:5.0f}/s)  p50 {r['p50_ms']:6.0f} ms  "
            f"p99 {r['p99_ms']:6.0f} ms  max {r['max_ms']:6.0f} ms  errors {r['errors']}  lost {r['lost']}  "
            f"duplicated {r['duplicated']}  stored {r['stored']}")
    line += f"\n{'':<28} p99 of the first checks (all students at once) {r['p99_first_ms']:.0f} ms, of the rest {r['p99_rest_ms']:.0f} ms"
    if "killed_after_s" not in r:     # (the restarted process's CPU alone would mislead)
        line += (f"; CPU per check: web process {r['cpu_ms'][0]:.1f} ms, checking workers {r['cpu_ms'][1]:.1f} ms, "
                 f"clients {r['cpu_ms'][2]:.1f} ms")
    if r["errors"]:
        line += f"; errors: {r['error_kinds']}"
    if "killed_after_s" in r:
        line += (f"\n{'':<28} killed at {r['killed_after_s']} s ({r['acked_at_kill']} acknowledged then), "
                 f"restarted in {r['restart_s']:.1f} s, {r['refused_while_down']} requests refused while down and "
                 f"retried; {r['unanswered_but_stored']} stored but never acknowledged")
    print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=400)
    ap.add_argument("--checks", type=int, default=5, help="checks per student (default 5)")
    ap.add_argument("--think", default="1-3", help="seconds between a student's checks, LOW-HIGH (default 1-3)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--kill-after", type=float, default=0.3, help="the kill -9 run kills the server when this "
                    "fraction of the checks is acknowledged (default 0.3)")
    ap.add_argument("--pg", metavar="URL", default=os.environ.get("DERIVE_TEST_PG"),
                    help="a PostgreSQL database to run against as well (default $DERIVE_TEST_PG)")
    args = ap.parse_args()
    think = tuple(float(x) for x in args.think.split("-"))
    print(f"{args.students} students, {args.checks} checks each, {think[0]}-{think[1]} s between them, "
          f"{args.workers} checking workers, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="derive-bench-") as tmp:
        folder = Path(tmp)
        dbs = [("SQLite", lambda n: str(folder / f"{n}.sqlite"))]
        if args.pg:
            dbs.append(("PostgreSQL", lambda n: fresh_pg(args.pg, f"bench_{n}")))
        for label, db in dbs:
            show(f"{label}", load(db("load"), folder, args.students, args.checks, think, args.workers))
            show(f"{label}, kill -9 mid-load", load(db("kill"), folder, args.students, args.checks, think,
                                                    args.workers, kill_after=args.kill_after))
    print(f"machine load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))       # run from a checkout: this tree's derive (tests import it as installed)
    main()
