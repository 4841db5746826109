"""A hard wall-clock limit: run a function in a persistent forked worker, kill it on timeout.

A signal-based alarm cannot interrupt a C-level big-integer operation; a separate process can
always be killed. The worker is forked once and reused (warm caches make a check take
milliseconds); on a timeout it is killed and the next call forks a fresh one. Each job has an
untimed `prepare` phase (trusted work such as deriving the reference, cached in the worker)
and a timed phase (the untrusted answer). Where fork is unavailable, jobs run inline.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading

PREPARE_TIMEOUT = 120.0      # seconds for trusted preparation (deriving a problem)


def _serve(conn) -> None:
    """The worker's loop: receive (prepare, job), answer 'ready' then the job's result."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is for the parent; it stops the worker
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = 4 << 30
        if hard == resource.RLIM_INFINITY or hard > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass
    while True:
        try:
            prepare, fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if prepare is not None:
                prepare[0](*prepare[1])
            conn.send(("ready", None))
            out = fn(*args)
        except BaseException as e:          # noqa: BLE001 - the worker must answer, never die silently
            out = RuntimeError(f"{type(e).__name__}: {str(e)[:200]}")
        try:
            conn.send(("done", out))
        except Exception as e:               # unpicklable result
            conn.send(("done", RuntimeError(f"unsendable result: {e}")))


class Worker:
    def __init__(self):
        self.proc = None
        self.conn = None
        self.lock = threading.Lock()
        self.pid_owner = os.getpid()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.is_alive() and self.pid_owner == os.getpid()

    def start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="derive-check-worker")
        self.proc.start()
        child.close()
        self.conn, self.pid_owner = parent, os.getpid()

    def stop(self) -> None:
        if self.proc is not None:
            try:
                self.proc.kill()
                self.proc.join(1)
            except (OSError, ValueError, AssertionError):
                pass
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None

    def run(self, fn, args, timeout: float, prepare=None):
        """fn(*args) in the worker; None when it did not finish within `timeout` seconds."""
        with self.lock:
            if not self.alive():
                self.stop()
                if prepare is not None:          # warm the parent so the fork inherits the cache
                    prepare[0](*prepare[1])
                self.start()
            try:
                self.conn.send((prepare, fn, args))
                if not self.conn.poll(PREPARE_TIMEOUT):
                    self.stop()
                    return None
                self.conn.recv()                                  # ready: the clock starts now
                if not self.conn.poll(timeout):
                    self.stop()
                    return None
                return self.conn.recv()[1]
            except (EOFError, OSError, BrokenPipeError) as e:
                self.stop()
                return RuntimeError(f"the checking process ended unexpectedly ({type(e).__name__})")


_worker = Worker()


def fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def run(fn, args, timeout: float, prepare=None):
    """fn(*args) under a hard wall-clock limit: its result, an exception object, or None on timeout."""
    if not fork_available():
        try:
            return fn(*args)
        except Exception as e:               # noqa: BLE001
            return RuntimeError(f"{type(e).__name__}: {e}")
    return _worker.run(fn, args, timeout, prepare)
