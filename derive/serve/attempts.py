"""The attempts store: every check by an identified student, committed before the verdict is sent.

One schema for SQLite (the default, `--db derive.sqlite`: WAL, synchronous=FULL, created on first
use) and PostgreSQL (`--db postgresql://...`, through psycopg 3, for several server processes);
the standard library's sqlite3 and psycopg directly, no ORM. SQL is written once with `?`
placeholders (turned into `%s` for PostgreSQL). Migrations are numbered lists of statements in
MIGRATIONS, applied in order under a lock (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE),
so several processes starting at once apply each exactly once; `schema_version` records them.

SQLite has one writer at a time and synchronous=FULL makes each commit an fsync, so the store
commits attempts that arrive together in one transaction (Writer: group commit); PostgreSQL does
the same by itself.

An attempt may carry a client key (the Idempotency-Key header): the same key from the same student
again returns the stored attempt instead of a second row, so a client that retries after a lost
answer (a killed server) never duplicates an attempt. The store never holds the server's secret.
"""
from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from derive.errors import DeriveError

PG_LOCK = 0x64657269          # the advisory lock id the migrations take ("deri")

# Each migration: (version, statements). `{id}` is the dialect's auto-increment key, `{float}` its double.
MIGRATIONS = [
    (1, ["""CREATE TABLE attempts (
            id {id},
            student TEXT NOT NULL,
            problem TEXT NOT NULL,
            variant BIGINT,
            quantity TEXT NOT NULL,
            answer TEXT NOT NULL,
            format TEXT NOT NULL DEFAULT 'auto',
            interpreted TEXT NOT NULL DEFAULT '',
            verdict TEXT NOT NULL,
            score {float} NOT NULL,
            diagnosis TEXT NOT NULL DEFAULT '',
            meaning TEXT NOT NULL DEFAULT '',
            client_key TEXT,
            created {float} NOT NULL)""",
         "CREATE INDEX attempts_question ON attempts (problem, quantity)",
         "CREATE INDEX attempts_student ON attempts (student, problem)",
         "CREATE UNIQUE INDEX attempts_client_key ON attempts (student, client_key)"]),
    (2, ["""CREATE TABLE lti_users (
            issuer TEXT NOT NULL, subject TEXT NOT NULL, student TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (issuer, subject))""",
         """CREATE TABLE lti_nonces (nonce TEXT PRIMARY KEY, expires {float} NOT NULL)""",
         """CREATE TABLE lti_lineitems (
            student TEXT NOT NULL, problem TEXT NOT NULL, issuer TEXT NOT NULL, lineitem TEXT NOT NULL,
            subject TEXT NOT NULL, PRIMARY KEY (student, problem))"""]),
    (3, ["CREATE INDEX lti_users_student ON lti_users (student)"]),
]
DIALECT = {"sqlite": {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "float": "REAL"},
           "postgresql": {"id": "BIGSERIAL PRIMARY KEY", "float": "DOUBLE PRECISION"}}
COLUMNS = ("id", "student", "problem", "variant", "quantity", "answer", "format", "interpreted", "verdict",
           "score", "diagnosis", "meaning", "client_key", "created")


@dataclass(frozen=True)
class Attempt:
    student: str
    problem: str
    variant: int | None
    quantity: str
    answer: str
    verdict: str
    score: float
    format: str = "auto"
    interpreted: str = ""
    diagnosis: str = ""             # codes joined by commas
    meaning: str = ""               # grade.meaning_key of a wrong answer (groups answers by meaning)
    client_key: str | None = None
    created: float = 0.0
    id: int | None = None

    @classmethod
    def from_row(cls, row) -> "Attempt":
        return cls(**dict(zip(COLUMNS, row)))


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


class Store:
    """A connection per thread to one database; every write is committed when the call returns."""

    def __init__(self, url: str):
        self.url = url
        self.dialect = "postgresql" if is_postgres(url) else "sqlite"
        self._local = threading.local()
        self._all: list = []
        self._lock = threading.Lock()
        self._writer = None             # SQLite's group-commit thread, started by the first add()
        if self.dialect == "postgresql":
            try:
                import psycopg
            except ModuleNotFoundError:
                raise DeriveError("a PostgreSQL --db needs psycopg: pip install 'derive[serve]'") from None
            self._pg = psycopg
        else:
            path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
            if path != ":memory:" and not Path(path).resolve().parent.is_dir():
                raise DeriveError(f"--db {url}: the folder {Path(path).parent} does not exist")
            self._path = path
        self.migrate()

    # ---- connections ------------------------------------------------------------------------
    def _connect(self):
        if self.dialect == "postgresql":
            try:
                return self._pg.connect(self.url, autocommit=True, connect_timeout=10)
            except self._pg.Error as e:
                raise DeriveError(f"cannot connect to the database: {str(e).strip()[:300]}") from None
        import sqlite3
        try:
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")        # an acknowledged attempt survives a power cut
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as e:
            raise DeriveError(f"--db {self.url}: cannot open the database: {e}") from None
        return conn

    def conn(self):
        c = getattr(self._local, "conn", None)
        if c is None or (self.dialect == "postgresql" and (c.closed or c.broken)):   # broken: PostgreSQL restarted
            # (the request that found it broken failed unacknowledged; it is not retried, so never stored twice)
            c = self._local.conn = self._connect()
            with self._lock:
                self._all.append(c)
        return c

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.dialect == "postgresql" else text

    def execute(self, text: str, params=()):
        if self.dialect == "sqlite":
            return self.conn().execute(text, params)
        if not params:                                # no parameters: a literal % is not a placeholder
            return self.conn().execute(text)
        return self.conn().execute(self.sql(text), params)

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            for c in self._all:
                try:
                    c.close()
                except Exception:       # closing at shutdown: nothing left to do about it
                    pass
            self._all.clear()
        self._local = threading.local()

    # ---- migrations ------------------------------------------------------------------------
    def version(self) -> int:
        try:
            row = self.execute("SELECT MAX(version) FROM schema_version").fetchone()
        except Exception:               # no table yet (sqlite3.OperationalError / psycopg.errors.UndefinedTable)
            return 0
        return row[0] or 0

    def migrate(self, migrations=MIGRATIONS) -> int:
        """Apply the migrations this database lacks, each in its own transaction; the version reached."""
        c = self.conn()
        words = DIALECT[self.dialect]
        if self.dialect == "postgresql":
            with c.transaction():
                c.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK,))
                c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied "
                          "DOUBLE PRECISION NOT NULL)")
                done = c.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
                for version, statements in migrations:
                    if version > done:
                        for s in statements:
                            c.execute(s.format(**words))
                        c.execute("INSERT INTO schema_version VALUES (%s, %s)", (version, time.time()))
            return self.version()
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied REAL NOT NULL)")
            done = c.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            for version, statements in migrations:
                if version > done:
                    for s in statements:
                        c.execute(s.format(**words))
                    c.execute("INSERT INTO schema_version VALUES (?, ?)", (version, time.time()))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return self.version()

    # ---- attempts ----------------------------------------------------------------------------
    def add(self, a: Attempt) -> Attempt:
        """Store `a` (committed on return) and return it with its id; if the student already sent
        an attempt under the same client key, that stored attempt instead (nothing is added)."""
        if self.dialect == "postgresql":            # PostgreSQL groups concurrent commits itself
            return self.insert(self.execute, a)
        with self._lock:
            if self._writer is None:
                self._writer = Writer(self)
        return self._writer.submit(a)

    def insert(self, run, a: Attempt) -> Attempt:
        """add() through `run(sql, params)` (a cursor), inside the caller's transaction if any."""
        values = [getattr(a, c) for c in COLUMNS[1:]]
        values[COLUMNS.index("created") - 1] = a.created or time.time()
        cols = ", ".join(COLUMNS[1:])
        marks = ", ".join("?" * len(values))
        row = run(self.sql(f"INSERT INTO attempts ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING RETURNING id"),
                  values).fetchone()
        if row is None:                 # the same (student, client_key) is stored already
            return Attempt.from_row(run(self.sql(f"SELECT {', '.join(COLUMNS)} FROM attempts WHERE student = ? "
                                                 "AND client_key = ?"), (a.student, a.client_key)).fetchone())
        return Attempt(**{**a.__dict__, "id": row[0], "created": values[-1]})

    def attempts(self, order: str = "student, problem, id"):
        """Every attempt, in `order` (a fixed ORDER BY of this module's callers)."""
        cur = self.execute(f"SELECT {', '.join(COLUMNS)} FROM attempts ORDER BY {order}")
        for row in cur:
            yield Attempt.from_row(row)

    def count(self) -> int:
        return self.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]

    def best_scores(self, student: str, problem: str) -> dict:
        """quantity -> the best score this student reached on it."""
        rows = self.execute("SELECT quantity, MAX(score) FROM attempts WHERE student = ? AND problem = ? "
                            "GROUP BY quantity", (student, problem)).fetchall()
        return {q: float(s) for q, s in rows}


class Writer:
    """SQLite's group commit: one thread writes every attempt, committing those that arrived together
    in one transaction (one fsync for many; synchronous=FULL made it one fsync each, 155 attempts/s
    here from 16 threads). A caller's add() returns once its transaction is committed."""
    MAX_BATCH = 256
    WAIT = 60.0                         # seconds an add() waits for its commit before giving up

    def __init__(self, store: Store):
        self.store, self.queue = store, queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="derive-attempts-writer", daemon=True)
        self.thread.start()

    def submit(self, a: Attempt) -> Attempt:
        done: Future = Future()
        self.queue.put((a, done))
        return done.result(self.WAIT)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(10)

    def _run(self) -> None:
        conn = self.store._connect()
        try:
            while True:
                item = self.queue.get()
                if item is None:
                    return
                batch = [item]
                while len(batch) < self.MAX_BATCH:
                    try:
                        item = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:        # closing: commit this batch first
                        self.queue.put(None)
                        break
                    batch.append(item)
                self._commit(conn, batch)
        finally:
            conn.close()

    def _commit(self, conn, batch: list) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            out = [self.store.insert(conn.execute, a) for a, _ in batch]
            conn.execute("COMMIT")
        except Exception as e:              # the driver's errors; each attempt alone, so one fails only itself
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if len(batch) > 1:
                for item in batch:
                    self._commit(conn, [item])
            else:
                batch[0][1].set_exception(e)
            return
        for (_, done), stored in zip(batch, out):
            done.set_result(stored)
