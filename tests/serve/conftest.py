"""Fixtures of the course-server tests: a database URL for SQLite and for PostgreSQL, a roster, tokens.

The PostgreSQL half runs where $DERIVE_TEST_PG names a database (CI's .ci/run starts one and sets
it); each test gets its own schema there, dropped afterwards."""
import secrets

import pytest
from course_helpers import PG, SECRET


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG else "?"
    return f"{PG}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database of each kind."""
    yield from _database(request.param, tmp_path)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db_url(request, tmp_path_factory):
    """A database of each kind shared by a module's tests (each test uses rows of its own)."""
    yield from _database(request.param, tmp_path_factory.mktemp("db"))


def _database(kind, folder):
    if kind == "sqlite":
        yield str(folder / "attempts.sqlite")
        return
    if not PG:
        pytest.skip("DERIVE_TEST_PG is not set (CI sets it: .ci/run starts PostgreSQL)")
    psycopg = pytest.importorskip("psycopg")
    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(PG, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    try:
        yield _pg_schema_url(schema)
    finally:
        with psycopg.connect(PG, autocommit=True) as c:
            c.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="module")
def roster_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("roster") / "roster.csv"
    p.write_text("id,name\ns1,Ada Lovelace\ns2,<img src=x onerror=alert(1)>\ns3,Carl Gauss\n", encoding="utf-8")
    return p


@pytest.fixture
def tokens():
    from derive.serve.students import Tokens
    return Tokens(SECRET)


@pytest.fixture(scope="module")
def course_settings():
    """settings(course, **kw) -> the Settings of a test server for `course`."""
    from derive.serve.app import Settings

    def settings(course, **kw):
        return Settings(course=course, workers=1, **{"rate_limit": 0, **kw})
    return settings
