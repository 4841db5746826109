"""Helpers of the course-server tests (importable: tests/conftest.py puts this folder on sys.path)."""
import os

PG = os.environ.get("DERIVE_TEST_PG", "")
SECRET = b"a test secret of at least sixteen bytes"


def make_course(db_url, roster_file=None, salt="fall26", lti=None, instructor_token="instructor-token-0123456789"):
    from derive.serve.attempts import Store
    from derive.serve.course import Course
    from derive.serve.students import Roster, Tokens
    roster = Roster.read(roster_file, salt) if roster_file else None
    return Course(Tokens(SECRET), Store(db_url), roster, salt, lti, instructor_token)
