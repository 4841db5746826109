"""The processes behind pool.py: the forker that forks workers, and one worker's loop.

While the caller has a single thread the forker is a fork of it (warm: it has everything the
caller imported; no other thread can hold a lock at that moment; every inherited file
descriptor is closed); in a process with threads it is started fresh with `subprocess` and
imports the checker once. A worker is a fork of the forker: its standard streams are /dev/null,
it dies with the forker (PR_SET_PDEATHSIG on Linux, a parent poll elsewhere), and the forker
exits as soon as the caller's end of its socket closes.
"""
from __future__ import annotations

import ctypes
import gc
import importlib
import math
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection

from derive.errors import DeriveError

PREPARE_TIMEOUT = 120.0      # seconds for trusted preparation (deriving a problem)
MAX_JOBS = 5000              # a worker is replaced after this many jobs ...
MAX_RSS_MB = 300             # ... or when its resident memory has grown by this much
ADDRESS_SPACE = 4 << 30      # RLIMIT_AS of a worker: an allocation bomb fails instead of swapping
PRELOAD = ("derive.grading.job",)
PREPARED = 32                # prepares remembered per worker (grading.reference caches 64 problems)


@dataclass(frozen=True)
class Ok:
    value: object
    status = "ok"


@dataclass(frozen=True)
class Timeout:
    seconds: float
    status = "timeout"


@dataclass(frozen=True)
class Crashed:
    reason: str                   # one line: what happened
    error: Exception | None = None  # a DeriveError the job raised on purpose (re-raisable)
    status = "crashed"


Outcome = Ok | Timeout | Crashed


# ---- inside the helper processes ------------------------------------------------------------
def _die_with_parent() -> None:
    """SIGKILL this process when its parent ends (Linux); elsewhere a thread polls the parent."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0:      # PR_SET_PDEATHSIG = 1
            if os.getppid() != parent:                             # the parent died before prctl
                os._exit(0)
            return
    except (OSError, AttributeError):
        pass

    def poll():
        while True:
            threading.Event().wait(0.5)
            if os.getppid() != parent:
                os._exit(0)
    threading.Thread(target=poll, daemon=True).start()


def _quiet_stdio() -> None:
    """Standard streams to /dev/null: a helper never holds the caller's terminal or pipes."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _limit_memory() -> None:
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or hard > ADDRESS_SPACE:
            resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, hard))
    except (ImportError, ValueError, OSError):
        pass


def _serve(conn: Connection) -> None:
    """A worker's loop: receive (prepare, fn, args); after a prepare answer ("ready",); then the
    result and the growth of its resident memory since it started, in MB."""
    _limit_memory()
    start = _rss_mb()
    while True:
        try:
            prepare, fn, args = conn.recv()
        except (EOFError, OSError):
            os._exit(0)
        try:
            if prepare is not None:
                prepare[0](*prepare[1])
                conn.send(("ready",))
            out = ("ok", fn(*args))
        except DeriveError as e:
            out = ("raised", e)
        except BaseException as e:          # noqa: BLE001 - the worker must answer, never die silently
            out = ("error", f"{type(e).__name__}: {str(e)[:200]}")
        try:
            conn.send(("done", out, _rss_mb() - start))
        except Exception as e:               # noqa: BLE001 - an unpicklable result
            conn.send(("done", ("error", f"unsendable result: {type(e).__name__}"), _rss_mb() - start))


def _forker_main(fd: int, preload: str) -> None:
    """The forker: import the checker once, then fork one worker per request until EOF."""
    _quiet_stdio()
    signal.signal(signal.SIGINT, signal.SIG_IGN)        # Ctrl-C is the caller's to handle
    ctl = socket.socket(fileno=fd)
    for name in filter(None, preload.split(",")):
        try:
            importlib.import_module(name)
        except Exception:                                # noqa: BLE001 - the worker will say why
            pass
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)       # workers are reaped automatically
    ctl.sendall(b"R")
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctl, 1, 1)
        except OSError:
            os._exit(0)
        if not msg or not fds:                           # the caller is gone: so are we
            os._exit(0)
        pid = os.fork()
        if pid == 0:
            ctl.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _die_with_parent()
            try:
                _serve(Connection(fds[0]))
            finally:
                os._exit(0)
        os.close(fds[0])
        ctl.sendall(struct.pack("q", pid))


# ---- in the caller --------------------------------------------------------------------------
class Forker:
    """The helper process that forks workers; started lazily, restarted if it died."""

    def __init__(self, preload=PRELOAD):
        self.preload = ",".join(preload)
        self.lock = threading.Lock()
        self.proc = None          # the Popen of a spawned forker
        self.pid = None
        self.ctl = None

    def _start(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        if threading.active_count() == 1 and hasattr(os, "fork"):
            self._fork(parent, child)
        else:
            self._spawn(child)
        child.close()
        self.ctl = parent
        self.ctl.settimeout(PREPARE_TIMEOUT)
        if self.ctl.recv(1) != b"R":
            self.stop()
            raise OSError("the checking helper process did not start")

    def _fork(self, parent, child) -> None:
        pid = os.fork()
        if pid == 0:                                   # the forker, a copy of the single-threaded caller
            try:
                fd = child.fileno()
                os.closerange(3, fd)
                os.closerange(fd + 1, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 4096)
                gc.freeze()                            # the caller's objects are never collected here
                _forker_main(fd, "")
            finally:
                os._exit(0)
        self.pid = pid

    def _spawn(self, child) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        code = f"from derive.runtime.workers import _forker_main; _forker_main({child.fileno()}, {self.preload!r})"
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     pass_fds=(child.fileno(),), env=env, close_fds=True)
        self.pid = self.proc.pid

    def alive(self) -> bool:
        if self.pid is None:
            return False
        if self.proc is not None:
            return self.proc.poll() is None
        try:
            return os.waitpid(self.pid, os.WNOHANG) == (0, 0)
        except ChildProcessError:
            return False

    def start(self) -> None:
        with self.lock:
            if not self.alive():
                self.stop()
                self._start()

    def fork(self) -> tuple[int, Connection]:
        """A new worker: (pid, connection)."""
        with self.lock:
            for attempt in (1, 2):
                if not self.alive():
                    self.stop()
                    self._start()
                mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    socket.send_fds(self.ctl, [b"F"], [theirs.fileno()])
                    data = b""
                    while len(data) < 8:
                        chunk = self.ctl.recv(8 - len(data))
                        if not chunk:
                            raise OSError("the checking helper process ended")
                        data += chunk
                    return struct.unpack("q", data)[0], Connection(mine.detach())
                except OSError:
                    mine.close()
                    self.stop()
                    if attempt == 2:
                        raise
                finally:
                    theirs.close()

    def stop(self) -> None:
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None
        if self.proc is not None:
            try:
                self.proc.kill()
                self.proc.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        elif self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
        self.proc = self.pid = None


class Worker:
    """One forked worker process and its connection; used by one thread at a time."""

    def __init__(self, forker: Forker):
        self.pid, self.conn = forker.fork()
        self.jobs, self.rss_mb, self.dead = 0, 0.0, False
        self.prepared: dict = {}        # prepares done here, oldest first (fewer than the worker caches)
        try:                            # readable once the process has ended, zombie or reaped (Linux 5.3)
            self.pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self.pidfd = None
        # one poll object for the connection (Connection.poll builds a selector on every call)
        self.replies = select.poll()
        self.replies.register(self.conn.fileno(), select.POLLIN)

    def readable(self, timeout: float) -> bool:
        """Connection.poll(timeout): a reply (or the end of the process) is waiting to be read."""
        ms = None if timeout is None or math.isinf(timeout) else max(0, math.ceil(timeout * 1000))
        return bool(self.replies.poll(ms))

    def ended(self) -> bool | None:
        """Whether the process has ended, by its pidfd; None where there is none (ask /proc)."""
        if self.pidfd is None:
            return None
        try:
            return bool(select.select([self.pidfd], [], [], 0)[0])
        except (OSError, ValueError):
            return None

    def _prepared(self, prepare) -> None:
        self.prepared[prepare] = True
        while len(self.prepared) > PREPARED:
            del self.prepared[next(iter(self.prepared))]

    def kill(self) -> None:
        if not self.dead:
            self.dead = True
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            self.conn.close()
            if self.pidfd is not None:
                os.close(self.pidfd)
                self.pidfd = None

    def run(self, fn, args, timeout: float, prepare=None) -> Outcome:
        """A prepare this worker has done is not repeated (it is cached there), which saves a message."""
        fresh = prepare is not None and prepare not in self.prepared
        try:
            self.conn.send((prepare if fresh else None, fn, args))
            if not self.readable(PREPARE_TIMEOUT if fresh else timeout):
                self.kill()
                return Timeout(PREPARE_TIMEOUT if fresh else timeout)
            msg = self.conn.recv()
            if msg[0] == "ready":                       # the clock starts now
                self._prepared(prepare)
                if not self.readable(timeout):
                    self.kill()
                    return Timeout(timeout)
                msg = self.conn.recv()
        except (EOFError, OSError) as e:
            self.kill()
            return Crashed(f"the checking process ended unexpectedly ({type(e).__name__})")
        _, (tag, value), self.rss_mb = msg
        self.jobs += 1
        if tag == "ok":
            return Ok(value)
        if tag == "raised":
            return Crashed(str(value), value)
        return Crashed(value)
