"""`derive attempts export`: the stored attempts in the columns `derive grade` reads.

    student, problem, variant, quantity, answer      what grade checks (rows.REQUIRED + variant)
    attempt, submitted, checked_verdict, checked_score, interpreted_at_check   kept in grade's report

Rows come ordered by student, problem and attempt, so grade sees one student's answers to a
problem together (one derivation). `--best` keeps, per student, problem, variant and question,
the attempt with the highest score (the earliest of equals); `--last` the latest attempt.
"""
from __future__ import annotations

import csv
import datetime
import json
import os
import tempfile
from pathlib import Path

from derive.errors import DeriveError

COLUMNS = ("student", "problem", "variant", "quantity", "answer", "attempt", "submitted", "checked_verdict",
           "checked_score")


def pick(attempts, mode: str):
    """All attempts, or one per (student, problem, variant, quantity): `best` or `last`."""
    if mode == "all":
        yield from attempts
        return
    chosen: dict = {}
    order: list = []
    for a in attempts:                      # ordered by student, problem, id
        key = (a.student, a.problem, a.variant, a.quantity)
        if key not in chosen:
            order.append(key)
            chosen[key] = a
        elif mode == "last" or a.score > chosen[key].score:
            chosen[key] = a
    yield from sorted((chosen[k] for k in order), key=lambda a: (a.student, a.problem, a.id))


def row(a) -> dict:
    when = datetime.datetime.fromtimestamp(a.created, datetime.timezone.utc).isoformat(timespec="seconds")
    return {"student": a.student, "problem": a.problem, "variant": "" if a.variant is None else str(a.variant),
            "quantity": a.quantity, "answer": a.answer, "attempt": str(a.id), "submitted": when,
            "checked_verdict": a.verdict, "checked_score": f"{a.score:g}"}


def export(store, output: str | None, mode: str = "all") -> int:
    """Write the attempts to `output` (.csv or .jsonl; None: CSV on stdout); the rows written."""
    import sys
    kind = "jsonl" if output and Path(output).suffix.lower() in (".jsonl", ".ndjson") else "csv"
    if output and kind == "csv" and Path(output).suffix.lower() != ".csv":
        raise DeriveError(f"-o {output}: the export is a .csv or a .jsonl file")
    if output:
        target = Path(output)
        fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.resolve().parent)
        f = os.fdopen(fd, "w", encoding="utf-8", newline="")
    else:
        f, tmp = sys.stdout, None
    n = 0
    try:
        writer = csv.DictWriter(f, COLUMNS, lineterminator="\n") if kind == "csv" else None
        if writer:
            writer.writeheader()
        for a in pick(store.attempts(), mode):
            r = row(a)
            if writer:
                writer.writerow(r)
            else:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
        if tmp:
            f.flush()
            os.fsync(f.fileno())
            f.close()
            os.replace(tmp, output)
            tmp = None
    finally:
        if tmp:
            f.close()
            os.unlink(tmp)
    return n


def cmd_export(args) -> int:
    from derive.serve.attempts import Store
    store = Store(args.db)
    try:
        n = export(store, args.output, "best" if args.best else "last" if args.last else "all")
    finally:
        store.close()
    if args.output:
        print(f"derive attempts export: {n} attempts written to {args.output}", file=__import__("sys").stderr)
    return 0
