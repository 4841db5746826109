"""The journal beside a report (REPORT.partial.jsonl): what makes a batch resumable.

A header line with the input's SHA-256, then one graded row per line, in input order, with the
row's input columns (so the outputs are written from the journal alone, without reading the
input a third time). Lines
reach the OS every 50 ms and the disk every 0.5 s; a row a kill loses is only graded again,
since resuming keeps the whole, readable lines and grades the rest.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

JOURNAL_VERSION = 2
FLUSH_SECONDS = 0.05            # the journal reaches the OS at least this often (a SIGKILL loses no more)
SYNC_SECONDS = 0.5              # ... and the disk (a power cut loses no more); lost rows are graded again


@dataclass(frozen=True)
class Graded:
    verdict: str
    score: float
    max_score: float
    diagnosis: tuple = ()
    feedback: tuple = ()
    interpreted: str = ""
    key: str = ""               # what the answer means, for clustering wrong answers (meaning_key)
    problem: str = ""           # the problem's id and the quantity's name (as typed when unknown)
    quantity: str = ""
    headline: str = ""          # on the first row of a derivation with a mistake: where it is (grouped.py)

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "score": self.score, "max_score": self.max_score,
                "diagnosis": list(self.diagnosis), "feedback": list(self.feedback),
                "interpreted": self.interpreted, "key": self.key, "problem": self.problem,
                "quantity": self.quantity, "headline": self.headline}

    @classmethod
    def from_json(cls, d: dict) -> "Graded":
        return cls(d["verdict"], float(d["score"]), float(d["max_score"]), tuple(d["diagnosis"]),
                   tuple(d["feedback"]), d["interpreted"], d["key"], d["problem"], d["quantity"],
                   d.get("headline", ""))



def _whole(line: bytes) -> bool:
    try:
        d = json.loads(line)
        Graded.from_json(d)
        return isinstance(d["fields"], dict)
    except (ValueError, KeyError, TypeError):
        return False


class Journal:
    """REPORT.partial.jsonl: a header line with the input's hash, then one Graded per row in order."""

    def __init__(self, report: Path):
        self.path = report.with_name(report.name + ".partial.jsonl")
        self.file = None
        self.flushed = self.synced = 0.0
        self.count = 0                  # rows in the journal

    def _kept(self, input_hash: str | None = None) -> tuple[int, int] | None:
        """(whole rows, the byte offset after the last) in the journal on disk; None if there is
        none, or it is another input's (`input_hash` given) or another version's."""
        if not self.path.is_file():
            return None
        with open(self.path, "rb") as f:
            header = f.readline()
            try:
                head = json.loads(header)
                ok = head.get("version") == JOURNAL_VERSION and (input_hash is None or
                                                                  head.get("input_sha256") == input_hash)
            except (ValueError, AttributeError):
                ok = False
            if not ok:
                return None
            done, good_end = 0, f.tell()
            for line in f:
                if not line.endswith(b"\n") or not _whole(line):
                    break                               # the half line a kill left
                done, good_end = done + 1, good_end + len(line)
        return done, good_end

    def resume(self, input_hash: str) -> int:
        """Rows already graded for this input (0 and a fresh journal if none or another input's)."""
        kept = self._kept(input_hash)
        if kept:
            done, good_end = kept
            with open(self.path, "r+b") as f:
                f.truncate(good_end)
            self.file = open(self.path, "a", encoding="utf-8")
            self.count = done
            return done
        self.file = open(self.path, "w", encoding="utf-8")
        self.file.write(json.dumps({"input_sha256": input_hash, "version": JOURNAL_VERSION}) + "\n")
        self._sync(force=True)
        return 0

    def saved(self) -> int:
        """Close the journal and count the rows a rerun resumes from: a signal can land between a
        row's write and its count, so the file, not `count`, is the truth."""
        self.close()
        kept = self._kept()
        return kept[0] if kept else 0

    def append(self, fields: dict, g: Graded) -> None:
        # ASCII escapes: a lone surrogate a student typed survives the round trip instead of failing the write
        self.file.write(json.dumps({"fields": fields, **g.to_json()}) + "\n")
        self.count += 1
        self._sync()

    def _sync(self, force: bool = False) -> None:
        """Flushing each row costs a system call a row; a row lost to a kill is only graded again."""
        now = time.monotonic()
        if force or now - self.flushed >= FLUSH_SECONDS:
            self.file.flush()
            self.flushed = now
        if force or now - self.synced >= SYNC_SECONDS:
            os.fsync(self.file.fileno())
            self.synced = now

    def close(self) -> None:
        if self.file is not None:
            self._sync(force=True)
            self.file.close()
            self.file = None

    def replay(self) -> Iterator[tuple[dict, Graded]]:
        """(the row's input columns, its Graded), in input order."""
        with open(self.path, encoding="utf-8") as f:
            f.readline()
            for line in f:
                d = json.loads(line)
                yield d["fields"], Graded.from_json(d)
