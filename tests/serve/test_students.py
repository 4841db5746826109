"""Students and their tokens: signed personal links, each student's own variant, 401 for anything forged."""
import csv
import io
import json

import pytest
from course_helpers import SECRET, make_course
from serving import request, running

from derive import variants
from derive.cli import main
from derive.errors import DeriveError
from derive.serve.students import TokenError, Tokens, bearer, link


# ---- tokens ---------------------------------------------------------------------------------------
def test_a_token_names_its_student(tokens):
    t = tokens.make("s1")
    assert tokens.check(t) == "s1"
    assert tokens.check(tokens.make("s2", "instructor"), "instructor") == "s2"


@pytest.mark.parametrize("token, message", [
    (None, "needs your personal link"),
    ("", "needs your personal link"),
    ("junk", "not a derive token"),
    ("a.b.c", "not a derive token"),
    ("x" * 5000, "not a derive token"),
    ("!!!.???", "not a derive token"),
    ("\ud800.\udfff", "not a derive token"),
])
def test_junk_tokens_are_refused_clearly(tokens, token, message):
    with pytest.raises(TokenError, match=message):
        tokens.check(token)


def test_an_altered_token_is_refused(tokens):
    head, mac = tokens.make("s1").split(".")
    other_head = tokens.make("s2").split(".")[0]
    with pytest.raises(TokenError, match="signature is wrong"):
        tokens.check(f"{other_head}.{mac}")          # another student's payload under s1's signature
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    with pytest.raises(TokenError, match="signature is wrong"):
        tokens.check(f"{head}.{flipped}")


def test_a_token_of_another_secret_is_forged(tokens):
    forged = Tokens(b"another secret, sixteen bytes+").make("s1")
    with pytest.raises(TokenError, match="signature is wrong"):
        tokens.check(forged)


def test_an_expired_token_is_refused():
    now = [1_000_000.0]
    t = Tokens(SECRET, clock=lambda: now[0])
    token = t.make("s1", days=1)
    assert t.check(token) == "s1"
    now[0] += 86400 + 1
    with pytest.raises(TokenError, match="expired"):
        t.check(token)
    assert t.check(t.make("s1", days=None)) == "s1"     # days None: never expires


def test_a_student_token_is_not_an_instructor_token(tokens):
    with pytest.raises(TokenError, match="this is a student token"):
        tokens.check(tokens.make("s1"), "instructor")


def test_bearer_and_link():
    assert bearer({"authorization": "Bearer abc.def"}) == "abc.def"
    assert bearer({"authorization": "Basic abc"}) is None and bearer({}) is None
    assert link("https://h.example/course?x=1", "T.K") == "https://h.example/course?x=1&token=T.K"
    assert link("https://h.example", "T").endswith("/?token=T")


# ---- derive links -------------------------------------------------------------------------------------
def test_derive_links_writes_one_signed_url_per_student(roster_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DERIVE_SECRET", SECRET.decode())
    out = tmp_path / "links.csv"
    assert main(["links", "--roster", str(roster_file), "--salt", "fall26", "--base-url",
                 "https://derive.example.edu/", "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["id"] for r in rows] == ["s1", "s2", "s3"]
    assert rows[1]["name"] == "<img src=x onerror=alert(1)>"
    t = Tokens(SECRET)
    for r in rows:
        assert r["url"].startswith("https://derive.example.edu/?token=")
        assert t.check(r["url"].split("?token=")[1]) == r["id"]


def test_derive_links_names_cannot_start_a_spreadsheet_formula(tmp_path, monkeypatch):
    monkeypatch.setenv("DERIVE_SECRET", SECRET.decode())
    roster = tmp_path / "roster.csv"
    roster.write_text('id,name\ns1,"=HYPERLINK(""http://x"",""y"")"\ns2,-0.5\n', encoding="utf-8")
    out = tmp_path / "links.csv"
    assert main(["links", "--roster", str(roster), "--base-url", "https://h/", "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows[0]["name"] == "'=HYPERLINK(\"http://x\",\"y\")" and rows[1]["name"] == "-0.5"
    assert Tokens(SECRET).check(rows[0]["url"].split("?token=")[1]) == "s1"


def test_derive_links_creates_a_secret_file_and_refuses_a_bad_url(roster_file, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DERIVE_SECRET", raising=False)
    secret = tmp_path / "s.key"
    assert main(["links", "--roster", str(roster_file), "--base-url", "http://h/", "--secret-file", str(secret)]) == 0
    assert secret.stat().st_mode & 0o777 == 0o600
    first = capsys.readouterr().out
    assert main(["links", "--roster", str(roster_file), "--base-url", "http://h/", "--secret-file", str(secret)]) == 0
    assert capsys.readouterr().out.splitlines()[1].split("token=")[1].split(".")[1] == \
        first.splitlines()[1].split("token=")[1].split(".")[1]          # the same secret signs again
    assert main(["links", "--roster", str(roster_file), "--base-url", "ftp://h/", "--secret-file", str(secret)]) == 2
    assert "is not an http(s) address" in capsys.readouterr().err


def test_links_help_has_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["links", "--help"])
    assert "example:" in capsys.readouterr().out


# ---- the server ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory, roster_file, course_settings):
    course = make_course(str(tmp_path_factory.mktemp("db") / "a.sqlite"), roster_file)
    with running(course_settings(course)) as (url, app):
        yield url, course


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_each_student_sees_their_own_variant(server):
    url, course = server
    for sid in ("s1", "s3"):
        status, _, me = request(url, "GET", "/api/me", headers=auth(course.tokens.make(sid)))
        assert status == 200 and me["id"] == sid
        status, _, p = request(url, "GET", "/api/problems/problem2", headers=auth(course.tokens.make(sid)))
        assert status == 200
        seed = variants.seed_for(sid, "fall26")
        assert p["variant"] == seed
        given = variants.key_dict(variants.for_student("problem2", sid, salt="fall26"))["values"]
        text = json.dumps(p["statement"])
        assert all(f"{k[0]}_{k[1:]} = {v}" in text for k, v in given.items() if k in ("w0", "w1")), (given, text)


def test_a_check_is_against_the_students_variant(server):
    url, course = server
    key = variants.key_dict(variants.for_student("problem2", "s1", salt="fall26"))["key"]
    right = next(q["text"] for q in key if q["name"] == "dz/dw1")
    ok = request(url, "POST", "/api/check", {"problem": "problem2", "quantity": "dz/dw1", "answer": right},
                 headers=auth(course.tokens.make("s1")))
    assert ok[0] == 200 and ok[2]["verdict"] == "correct", (right, ok)


@pytest.mark.parametrize("path, body", [("/api/problems/problem2", None), ("/api/me", None),
                                        ("/api/check", {"problem": "problem2", "quantity": "z", "answer": "1"}),
                                        ("/api/preview", {"problem": "problem2", "quantity": "z", "answer": "1"})])
def test_no_forged_altered_or_expired_token_gets_in(server, path, body):
    url, course = server
    method = "POST" if body else "GET"
    head, mac = course.tokens.make("s1").split(".")
    expired = Tokens(SECRET, clock=lambda: 1000.0).make("s1", days=1)
    cases = {None: "personal link", "junk": "not a derive token",
             Tokens(b"someone else's secret key").make("s1"): "signature is wrong",
             course.tokens.make("s2").split(".")[0] + "." + mac: "signature is wrong",
             expired: "expired", course.tokens.make("nobody"): "not on this course's roster",
             course.tokens.make("s1", "instructor"): "instructor token"}
    for token, message in cases.items():
        status, headers, data = request(url, method, path, body, headers=auth(token) if token else {})
        assert status == 401, (token, data)
        assert message in data["error"]
        assert headers["content-type"].startswith("application/json") and "content-security-policy" in headers


def test_the_catalogue_listing_stays_open(server):
    url, _ = server
    status, _, data = request(url, "GET", "/api/problems")
    assert status == 200 and any(p["alias"] == "problem2" for p in data)


def test_without_a_roster_the_page_is_the_open_self_check(course_settings):
    from derive.serve.app import Settings
    with running(Settings(workers=1, rate_limit=0)) as (url, app):
        status, _, p = request(url, "GET", "/api/problems/problem2")
        assert status == 200 and p["variant"] is None
        status, _, r = request(url, "POST", "/api/check", {"problem": "problem2", "quantity": "z", "answer": "1"})
        assert status == 200 and "attempt" not in r
        assert request(url, "GET", "/api/me")[0] == 404
        assert request(url, "GET", "/instructor")[0] == 404


def test_the_rate_limit_counts_per_student_not_per_address(tmp_path, roster_file, course_settings):
    course = make_course(str(tmp_path / "a.sqlite"), roster_file)
    with running(course_settings(course, rate_limit=60, burst=3)) as (url, app):
        one, two = auth(course.tokens.make("s1")), auth(course.tokens.make("s3"))
        assert [request(url, "GET", "/api/me", headers=one)[0] for _ in range(3)] == [200] * 3
        status, headers, data = request(url, "GET", "/api/me", headers=one)
        assert status == 429 and "retry-after" in headers and "student:s1" in data["error"]
        assert request(url, "GET", "/api/me", headers=two)[0] == 200      # same address, another student


# ---- derive serve's course options ---------------------------------------------------------------
def _serve_args(*argv):
    from derive.cli import build_parser
    return build_parser().parse_args(["serve", *argv])


def test_serve_options_make_a_course_and_print_the_dashboard_link(tmp_path, roster_file, monkeypatch):
    from derive.serve import commands
    monkeypatch.setenv("DERIVE_SECRET", SECRET.decode())
    db = tmp_path / "c.sqlite"
    course = commands.make_course(_serve_args("--roster", str(roster_file), "--salt", "fall26", "--db", str(db)))
    try:
        assert set(course.roster.students) == {"s1", "s2", "s3"} and db.exists()
        text = commands.started(course, "http://127.0.0.1:8000/")
        assert "3 students on the roster" in text
        token = text.split("instructor?token=")[1].strip()
        assert course.tokens.check(token, "instructor") == "instructor"
    finally:
        course.close()
    assert commands.make_course(_serve_args()) is None                  # the open page
    with pytest.raises(DeriveError, match="need --roster or --lti"):
        commands.make_course(_serve_args("--db", str(db)))
    with pytest.raises(DeriveError, match="at least 16 characters"):
        commands.make_course(_serve_args("--roster", str(roster_file), "--instructor-token", "short"))


def test_the_solutions_of_a_class_variants_are_bounded(monkeypatch):
    from derive.serve import api
    monkeypatch.setattr(api, "MAX_SOLVED", 2)
    cat = api.Catalogue()
    cat.detail("problem1")                                    # the base problem: kept whatever happens
    seeds = [variants.seed_for(f"s{i}", "x") for i in range(3)]
    outs = [cat.detail("problem2", seed) for seed in seeds]
    assert [o["variant"] for o in outs] == seeds and all(o["solution"] for o in outs)
    assert list(cat._solved) == ["scalar-chain", f"residual-relu@{seeds[2]}"]
    assert cat.detail("problem2", seeds[0])["variant"] == seeds[0]      # solved again when asked again
