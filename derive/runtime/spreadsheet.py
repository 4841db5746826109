"""CSV cells that a spreadsheet opens as text: a cell a user gave that begins with =, +, -, @, a tab or
a carriage return would run as a formula (OWASP "CSV injection"), so it gets a leading apostrophe,
which spreadsheets show as a text marker. A number (-0.8, +3, 1e-5) is left as it is."""
from __future__ import annotations

import csv
import re

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def cell(value) -> str:
    """The value as a CSV cell that cannot start a formula."""
    s = value if isinstance(value, str) else str(value)
    if s.startswith(TRIGGERS) and not _NUMBER.fullmatch(s):
        return "'" + s
    return s


class SafeWriter:
    """csv.writer whose rows go through cell()."""

    def __init__(self, f):
        self._w = csv.writer(f)

    def writerow(self, row) -> None:
        self._w.writerow([cell(v) for v in row])
