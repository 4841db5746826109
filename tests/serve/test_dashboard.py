"""The instructor's dashboard data: per question who tried, who got it right after how many attempts,
and the most common wrong answers grouped by meaning with their diagnosis; behind its own token."""
import pytest
from course_helpers import make_course
from serving import request, running

RIGHT = "dL/dh3*f3'(b3 + h1*w3 + h2*w4)"
INSTRUCTOR = {"Authorization": "Bearer instructor-token-0123456789"}


@pytest.fixture
def server(db_url, roster_file, course_settings):
    course = make_course(db_url, roster_file)
    with running(course_settings(course)) as (url, app):
        yield url, course


def check(url, course, sid, quantity, answer):
    status, _, r = request(url, "POST", "/api/check", {"problem": "scalar-chain", "quantity": quantity, "answer": answer},
                           headers={"Authorization": f"Bearer {course.tokens.make(sid)}"})
    assert status == 200, r
    return r


def test_the_summary_counts_students_rights_and_groups_wrong_answers_by_meaning(server):
    url, course = server
    check(url, course, "s1", "dL/db3", "-" + RIGHT)
    check(url, course, "s1", "dL/db3", "-(" + RIGHT + ")")          # the same meaning, typed otherwise
    check(url, course, "s1", "dL/db3", RIGHT)                        # right at the 3rd attempt
    check(url, course, "s2", "dL/db3", RIGHT)                        # right at once
    check(url, course, "s3", "dL/db3", "-1*" + RIGHT)                # the same wrong meaning again
    check(url, course, "s3", "dL/db3", "2*" + RIGHT)
    check(url, course, "s3", "dL/dw3", "h1")
    status, _, data = request(url, "GET", "/api/instructor/summary", headers=INSTRUCTOR)
    assert status == 200 and data["attempts"] == 7
    db3 = next(q for q in data["questions"] if q["quantity"] == "dL/db3")
    assert (db3["problem"], db3["students"], db3["attempts"], db3["right"]) == ("scalar-chain", 3, 6, 2)
    assert db3["attempts_to_right"] == {"mean": 2.0, "median": 2.0}
    top = db3["wrong"][0]
    assert (top["count"], top["students"], top["diagnosis"]) == (3, 2, ["sign"])
    assert top["answer"] in ("-" + RIGHT, "-(" + RIGHT + ")", "-1*" + RIGHT)
    assert db3["wrong"][1]["count"] == 1 and db3["wrong"][1]["diagnosis"] == ["constant_factor"]
    w3 = next(q for q in data["questions"] if q["quantity"] == "dL/dw3")
    assert w3["right"] == 0 and w3["attempts_to_right"]["mean"] is None
    assert [q["quantity"] for q in data["questions"]] == ["dL/dw3", "dL/db3"]   # the problem's own order


def test_the_dashboard_needs_the_instructor_token(tmp_path, roster_file, course_settings):
    course = make_course(str(tmp_path / "d.sqlite"), roster_file)      # who may read it: one database is enough
    with running(course_settings(course)) as (url, app):
        _the_dashboard_needs_the_instructor_token(url, course)


def _the_dashboard_needs_the_instructor_token(url, course):
    for headers in ({}, {"Authorization": f"Bearer {course.tokens.make('s1')}"}, {"Authorization": "Bearer junk"}):
        status, _, data = request(url, "GET", "/api/instructor/summary", headers=headers)
        assert status == 401 and "error" in data
    signed = {"Authorization": f"Bearer {course.tokens.make('teacher', 'instructor')}"}
    assert request(url, "GET", "/api/instructor/summary", headers=signed)[0] == 200
    status, headers, page = request(url, "GET", "/instructor")
    assert status == 200 and "content-security-policy" in headers and "/static/instructor.js" in page


def test_two_servers_on_one_database_share_the_class(db_url, roster_file, course_settings):
    """Several `derive serve` processes behind a proxy: one student's checks on either server,
    one dashboard (on a third Course of the same database) counting them all."""
    one, two = make_course(db_url, roster_file), make_course(db_url, roster_file)
    with running(course_settings(one)) as (url1, _), running(course_settings(two)) as (url2, _):
        check(url1, one, "s1", "dL/db3", "-" + RIGHT)
        check(url2, two, "s1", "dL/db3", RIGHT)
        check(url2, two, "s2", "dL/db3", RIGHT)
        status, _, data = request(url1, "GET", "/api/instructor/summary", headers=INSTRUCTOR)
    db3 = next(q for q in data["questions"] if q["quantity"] == "dL/db3")
    assert (db3["students"], db3["attempts"], db3["right"], db3["attempts_to_right"]["mean"]) == (2, 3, 2, 1.5)
