"""A memo keyed by object identity: SymPy compares equal trees node by node, so a dict keyed by
deep expressions costs a walk of the tree on every hit; the same object is found at once."""
from __future__ import annotations


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
