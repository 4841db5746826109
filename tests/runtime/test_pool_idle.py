"""A worker that dies while idle is never handed a job: the next check gets a live worker."""
import os
import signal
import time

import derive


def test_a_worker_killed_while_idle_is_replaced_before_the_next_check():
    with derive.Checker(workers=1, inline=False) as c:          # every check in the worker
        assert c.check("problem1", "dL/dw1", "x").verdict in ("correct", "incorrect")
        [victim] = c.pool.pids()
        os.kill(victim, signal.SIGKILL)
        time.sleep(0.2)                                   # the process is gone; the pool has not used it since
        assert victim not in c.pool.pids()
        r = c.check("problem6", "drho/dW1", "delta2 x^T")
        assert r.verdict == "correct", r.feedback        # not undecided: the dead worker got no job


def test_a_dead_worker_is_seen_by_its_pidfd_and_by_proc():
    from derive.runtime.pool import _alive
    with derive.Checker(workers=1, inline=False) as c:
        assert c.check("problem1", "dL/dw1", "x").verdict in ("correct", "incorrect")
        w = c.pool.idle[0]
        assert _alive(w) and w.ended() in (False, None)
        fd, w.pidfd = w.pidfd, None
        assert _alive(w)                                  # /proc says running
        w.pidfd = fd
        os.kill(w.pid, signal.SIGKILL)
        for _ in range(100):
            if w.ended() in (True, None):
                break
            time.sleep(0.01)
        assert w.ended() in (True, None) and not _alive(w)
        w.pidfd = None
        assert not _alive(w)                              # /proc (or the closed connection) says so too
        w.pidfd = fd


def test_a_thread_is_given_the_worker_it_used_last():
    """What batch.run's lanes rely on: each lane's thread keeps one worker, where its problems are
    warm. Two threads take turns; without the preference each would get the worker the other had
    just given back (the last one freed)."""
    import threading
    from derive.runtime.pool import Pool
    seen: dict = {0: set(), 1: set()}
    both, turns = threading.Barrier(2), [threading.Semaphore(1), threading.Semaphore(0)]

    def lane(i):
        seen[i].add(pool.run(os.getpid, (), timeout=10, prepare=(time.sleep, (0.3,))).value)   # both at once
        both.wait()
        for _ in range(6):
            turns[i].acquire()
            seen[i].add(pool.run(os.getpid, (), timeout=10).value)
            turns[1 - i].release()

    with Pool(2) as pool:
        threads = [threading.Thread(target=lane, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert len(seen[0]) == 1 and len(seen[1]) == 1 and seen[0] != seen[1], seen
