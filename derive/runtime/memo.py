"""Memos: keyed by object identity (SymPy compares equal trees node by node, so a dict keyed by
deep expressions costs a walk of the tree on every hit; the same object is found at once), and
kept for a second (what the file system says, asked many times in a row)."""
from __future__ import annotations

import time


class IdMemo:
    """fn(e) remembered per object; the entry keeps `e` alive, so its id is not reused meanwhile."""

    def __init__(self, fn, limit: int = 100_000):
        self.fn, self.limit, self.table = fn, limit, {}

    def __call__(self, e):
        hit = self.table.get(id(e))
        if hit is not None and hit[0] is e:
            return hit[1]
        value = self.fn(e)
        if len(self.table) >= self.limit:
            self.table.clear()
        self.table[id(e)] = (e, value)
        return value

    def clear(self):
        self.table.clear()


class Recent:
    """fn(key), remembered per key for `seconds`: a batch asks the file system the same thing
    thousands of times a second, and an answer a second old is good enough."""

    def __init__(self, fn, seconds: float = 1.0, limit: int = 64):
        self.fn, self.seconds, self.limit, self.table = fn, seconds, limit, {}

    def __call__(self, key):
        now = time.monotonic()
        hit = self.table.get(key)
        if hit is None or now - hit[1] >= self.seconds:
            if len(self.table) >= self.limit:
                self.table.clear()
            hit = self.table[key] = (self.fn(key), now)
        return hit[0]

    def clear(self):
        self.table.clear()
