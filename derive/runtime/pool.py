"""Hard wall-clock limits: jobs run in worker processes that can always be killed.

A signal-based alarm cannot interrupt a C-level big-integer operation; a separate process can
always be killed. Workers are forked from a *forker*, one helper process that forks a
worker in milliseconds on request. While the caller has a single thread the forker is a fork of
it (warm: it has everything the caller imported; no other thread can hold a lock at that
moment; every inherited file descriptor is closed); in a process with threads it is started
fresh with `subprocess` and imports the checker once. A worker never holds the caller's standard
streams (they are /dev/null), dies with the forker (PR_SET_PDEATHSIG on Linux, a parent poll
elsewhere), and the forker exits as soon as the caller's end of its socket closes — so killing
the caller, even with SIGKILL, takes every helper with it.

Each job has an untimed `prepare` phase (trusted work such as deriving the reference, cached in
the worker) and a timed phase (the untrusted answer). The outcome is typed: Ok, Timeout or
Crashed. A `Pool` of N workers is safe to use from many threads; a worker killed on a timeout
is replaced without disturbing the others, and workers are recycled after `max_jobs` jobs or
when their memory has grown by `max_rss_mb`, so memory stays flat.
"""
from __future__ import annotations

import atexit
import threading
import weakref
from pathlib import Path

from derive.runtime.workers import (
    MAX_JOBS,
    MAX_RSS_MB,
    PRELOAD,
    Crashed,
    Outcome,
    Worker,
    Forker,
)

_POOLS: weakref.WeakSet = weakref.WeakSet()


class Pool:
    """N workers shared by any number of threads; each job waits for a free worker, and is given the
    worker its thread used last when that one is free (batch.run's lanes rely on it)."""

    def __init__(self, size: int = 1, preload=PRELOAD, max_jobs: int = MAX_JOBS, max_rss_mb: float = MAX_RSS_MB):
        if int(size) != size or size < 1:
            raise ValueError(f"a pool needs a whole number of workers >= 1, not {size!r}")
        self.size, self.max_jobs, self.max_rss_mb = int(size), max_jobs, max_rss_mb
        self.forker = Forker(preload)
        self.cond = threading.Condition()
        self.idle: list[Worker] = []
        self.busy = 0
        self.started = 0                   # workers forked so far (replacements included)
        self.closed = False
        self.mine = threading.local()      # .worker: the one this thread used last
        _POOLS.add(self)

    def _acquire(self) -> Worker | None:
        with self.cond:
            while not self.closed and not self.idle and self.busy + len(self.idle) >= self.size:
                self.cond.wait()        # (closed: stop waiting for a worker, so an interrupted run can end)
            if self.closed:
                raise RuntimeError("this checker is closed")
            self.busy += 1
            last = getattr(self.mine, "worker", None)
            if last is not None and last in self.idle:       # it has what this thread checked warm
                self.idle.remove(last)
                self.idle.append(last)
            while self.idle:
                w = self.idle.pop()
                if _alive(w):
                    return w
                w.kill()                # died while idle (killed, or out of memory): never handed a job
        try:
            w = Worker(self.forker)
        except BaseException:
            self._release(None)
            raise
        with self.cond:
            self.started += 1
        return w

    def _release(self, w: Worker | None) -> None:
        with self.cond:
            self.busy -= 1
            if w is not None:
                if self.closed or w.dead or w.jobs >= self.max_jobs or w.rss_mb > self.max_rss_mb:
                    w.kill()
                else:
                    self.idle.append(w)
            self.cond.notify()

    def run(self, fn, args, timeout: float, prepare=None) -> Outcome:
        """fn(*args) in a worker under a hard wall-clock limit of `timeout` seconds."""
        try:
            w = self._acquire()
        except OSError as e:
            return Crashed(f"no checking process could be started ({e})")
        self.mine.worker = w
        try:
            return w.run(fn, args, timeout, prepare)
        finally:
            self._release(w)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def pids(self) -> list[int]:
        with self.cond:
            return [w.pid for w in self.idle if _alive(w)]

    def close(self) -> None:
        with self.cond:
            self.closed = True
            idle, self.idle = self.idle, []
            self.cond.notify_all()
        for w in idle:
            w.kill()
        self.forker.stop()


@atexit.register
def _close_all() -> None:
    for pool in list(_POOLS):
        pool.close()


_default: Pool | None = None
_default_lock = threading.Lock()


def _alive(w: Worker) -> bool:
    """An idle worker sends nothing: its connection is readable only once the process is gone (EOF).
    The forker may still hold the other end, so on Linux the process's own state is asked too (a
    killed worker is a zombie until the forker reaps it): its pidfd, else /proc."""
    try:
        if w.readable(0):
            return False
    except (OSError, ValueError):
        return False
    ended = w.ended()
    if ended is not None:
        return not ended
    try:
        stat = Path(f"/proc/{w.pid}/stat").read_text()
    except FileNotFoundError:
        return not Path("/proc/self").exists()       # no /proc (not Linux): the connection decides
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


def run(fn, args, timeout: float, prepare=None) -> Outcome:
    """fn(*args) under a hard wall-clock limit in a shared one-worker pool."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = Pool(1)
    return _default.run(fn, args, timeout, prepare)
