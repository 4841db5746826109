"""The attempts store on SQLite and PostgreSQL: migrations, storing before the verdict, idempotent
retries, hostile input, and `derive attempts export` whose rows `derive grade` grades the same."""
import csv
import json
import threading

import pytest
from course_helpers import make_course
from serving import request, running

from derive import variants
from derive.cli import main
from derive.serve.attempts import MIGRATIONS, Attempt, Store

LAST = MIGRATIONS[-1][0]


def test_migrations_create_the_schema_once(db_url):
    s = Store(db_url)
    assert s.version() == LAST
    s.add(Attempt("s1", "scalar-chain", None, "dz/dx", "1", "incorrect", 0.0))
    s.close()
    again = Store(db_url)                       # a restart applies nothing twice and keeps the rows
    assert again.version() == LAST and again.count() == 1
    assert [r[0] for r in again.execute("SELECT version FROM schema_version ORDER BY version")] == \
        [v for v, _ in MIGRATIONS]
    again.close()


def test_a_new_migration_is_applied_to_an_old_database(db_url):
    s = Store(db_url)
    extra = MIGRATIONS + [(LAST + 1, ["CREATE TABLE notes (id {id}, text TEXT NOT NULL)"])]
    assert s.migrate(extra) == LAST + 1
    assert s.migrate(extra) == LAST + 1
    s.execute("INSERT INTO notes (text) VALUES (?)", ("x",))
    assert s.execute("SELECT text FROM notes").fetchall() == [("x",)]
    s.close()


def test_processes_starting_at_once_migrate_once(db_url):
    errors, stores = [], []

    def start():
        try:
            stores.append(Store(db_url))
        except Exception as e:          # noqa: BLE001 - the test reports any failure
            errors.append(e)
    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert stores[0].execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)
    for s in stores:
        s.close()


def test_a_client_key_is_stored_once(db_url):
    s = Store(db_url)
    a = s.add(Attempt("s1", "p", None, "q", "x", "incorrect", 0.0, client_key="k1"))
    b = s.add(Attempt("s1", "p", None, "q", "x", "incorrect", 0.0, client_key="k1"))
    c = s.add(Attempt("s2", "p", None, "q", "x", "incorrect", 0.0, client_key="k1"))     # another student
    assert a.id == b.id != c.id and s.count() == 2
    s.close()


def test_concurrent_attempts_are_committed_together_and_a_bad_one_fails_alone(db_url):
    from concurrent.futures import ThreadPoolExecutor
    s = Store(db_url)
    good = [Attempt(f"s{i % 7}", "p", None, "q", f"x{i}", "incorrect", 0.0, client_key=f"k{i}") for i in range(60)]
    bad = Attempt("s1", "p", None, "q", "\ud800", "incorrect", 0.0)        # no database takes a lone surrogate
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(s.add, a) for a in good[:30] + [bad] + good[30:]]
    outcomes = [f.exception() for f in futures]
    assert outcomes[30] is not None and outcomes[:30] + outcomes[31:] == [None] * 60
    stored = [f.result() for i, f in enumerate(futures) if i != 30]
    assert sorted(a.answer for a in stored) == sorted(a.answer for a in good) and len({a.id for a in stored}) == 60
    assert s.count() == 60
    s.close()


# ---- through the server ---------------------------------------------------------------------------
@pytest.fixture
def server(db_url, roster_file, course_settings):
    course = make_course(db_url, roster_file)
    with running(course_settings(course)) as (url, app):
        yield url, course


@pytest.fixture(scope="module")
def shared(module_db_url, roster_file, course_settings):
    """One server per database for the tests that look only at what they add themselves."""
    course = make_course(module_db_url, roster_file)
    with running(course_settings(course)) as (url, app):
        yield url, course, module_db_url


def check(url, course, sid, problem, quantity, answer, key=None):
    headers = {"Authorization": f"Bearer {course.tokens.make(sid)}"}
    if key:
        headers["Idempotency-Key"] = key
    return request(url, "POST", "/api/check", {"problem": problem, "quantity": quantity, "answer": answer},
                   headers=headers)


def test_an_attempt_is_stored_before_its_verdict_is_returned(shared):
    url, course, db_url = shared
    status, _, r = check(url, course, "s1", "problem2", "dz/dw0", "1 + \u00e9")
    assert status == 200 and isinstance(r["attempt"], int)
    other = Store(db_url)                          # another connection sees it at once: committed
    [a] = [a for a in other.attempts() if a.id == r["attempt"]]
    assert (a.id, a.student, a.problem, a.variant, a.quantity, a.answer, a.verdict) == \
        (r["attempt"], "s1", "residual-relu", variants.seed_for("s1", "fall26"), "dz/dw0", "1 + \u00e9", r["verdict"])
    other.close()


def test_a_retried_check_is_not_a_second_attempt(shared):
    url, course, _ = shared
    before = course.store.count()
    first = check(url, course, "s1", "problem2", "z", "1", key="k-123")[2]
    again = check(url, course, "s1", "problem2", "z", "1", key="k-123")[2]
    assert first["attempt"] == again["attempt"] and course.store.count() == before + 1
    status, _, data = check(url, course, "s1", "problem2", "z", "2", key="k-123")     # the key, another answer
    assert status == 422 and "already used" in data["error"] and course.store.count() == before + 1


HOSTILE = [({"problem": "problem2", "quantity": "z", "answer": "\ud800"}, 400, "lone surrogate"),
           ({"problem": "problem2", "quantity": "\udfff", "answer": "1"}, 400, "lone surrogate"),
           ({"problem": "problem2", "quantity": "z", "answer": "x" * 5000}, 413, "longer than"),
           ({"problem": "nope", "quantity": "z", "answer": "1"}, 404, "unknown problem"),
           ({"problem": "problem2", "quantity": "nope", "answer": "1"}, 404, "quantity")]


def test_hostile_checks_get_a_json_4xx_and_store_nothing(shared):
    url, course, _ = shared
    before = course.store.count()
    for body, status, message in HOSTILE:
        got, headers, data = request(url, "POST", "/api/check", body,
                                     headers={"Authorization": f"Bearer {course.tokens.make('s1')}"})
        assert got == status and message in data["error"], (body, data)
        assert headers["content-type"].startswith("application/json")
    assert course.store.count() == before


def test_huge_bodies_and_junk_keys_are_refused(shared):
    url, course, _ = shared
    before = course.store.count()
    auth = {"Authorization": f"Bearer {course.tokens.make('s1')}", "Content-Type": "application/json"}
    assert request(url, "POST", "/api/check", raw=b"{" + b" " * 100_000 + b"}", headers=auth)[0] == 413
    status, _, data = request(url, "POST", "/api/check", {"problem": "problem2", "quantity": "z", "answer": "1"},
                              headers={**auth, "Idempotency-Key": "<script>"})
    assert status == 400 and "Idempotency-Key" in data["error"]
    assert course.store.count() == before


# ---- export and grade -----------------------------------------------------------------------------------
RIGHT = "dL/dh3*f3'(b3 + h1*w3 + h2*w4)"
ANSWERS = [("s1", "scalar-chain", "dL/db3", "junk )"), ("s1", "scalar-chain", "dL/db3", "-" + RIGHT),
           ("s1", "scalar-chain", "dL/db3", RIGHT), ("s3", "scalar-chain", "dL/db3", "2*" + RIGHT),
           ("s1", "problem2", "dz/dw0", "1"), ("s3", "problem2", "z", "0"), ("s1", "problem2", "z", "2")]


def _fill(url, course):
    return [check(url, course, *a)[2] for a in ANSWERS]


def test_export_writes_the_columns_grade_reads_and_grade_reproduces_the_verdicts(server, db_url, tmp_path, capsys):
    url, course = server
    results = _fill(url, course)
    out = tmp_path / "attempts.csv"
    assert main(["attempts", "export", "--db", db_url, "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0])[:5] == ["student", "problem", "variant", "quantity", "answer"]
    assert len(rows) == len(ANSWERS)
    by_attempt = {r["attempt"]: r for r in rows}
    for (sid, _, quantity, answer), res in zip(ANSWERS, results):
        row = by_attempt[str(res["attempt"])]
        assert (row["student"], row["quantity"], row["answer"], row["checked_verdict"]) == \
            (sid, quantity, answer, res["verdict"])
    report = tmp_path / "report.csv"
    assert main(["grade", str(out), "-o", str(report)]) in (0, 1)
    graded = list(csv.DictReader(report.open()))
    assert len(graded) == len(rows)
    for g in graded:       # a step consistent with an earlier mistake may earn ECF: never less than alone
        assert g["verdict"] == g["checked_verdict"] or (g["checked_verdict"], g["verdict"]) == ("incorrect", "consistent")
    assert [g["verdict"] for g in graded] == [g["checked_verdict"] for g in graded]    # these answers: exactly


def test_export_best_last_and_jsonl(server, db_url, tmp_path):
    url, course = server
    _fill(url, course)
    out = tmp_path / "a.jsonl"
    assert main(["attempts", "export", "--db", db_url, "--best", "-o", str(out)]) == 0
    best = [json.loads(line) for line in out.read_text().splitlines()]
    chain = [r for r in best if r["student"] == "s1" and r["problem"] == "scalar-chain"]
    assert len(chain) == 1 and chain[0]["answer"] == RIGHT and chain[0]["checked_verdict"] == "correct"
    assert main(["attempts", "export", "--db", db_url, "--last", "-o", str(out)]) == 0
    last = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(last) == len(best) == 5
    assert [r for r in last if r["student"] == "s1" and r["problem"] == "scalar-chain"][0]["answer"] == RIGHT


def test_export_refuses_a_missing_database_and_a_bad_suffix(tmp_path, db_url, capsys):
    assert main(["attempts", "export", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "no such database" in capsys.readouterr().err
    Store(db_url).close()
    assert main(["attempts", "export", "--db", db_url, "-o", str(tmp_path / "x.txt")]) == 2
    assert ".csv or a .jsonl" in capsys.readouterr().err


def test_a_database_that_fails_gets_a_503_and_no_verdict(shared, monkeypatch):
    url, course, _ = shared

    def broken(attempt):
        raise OSError("disk gone")
    monkeypatch.setattr(course.store, "add", broken)
    status, headers, data = check(url, course, "s1", "problem2", "z", "1")
    assert status == 503 and "could not be recorded" in data["error"] and "verdict" not in data
