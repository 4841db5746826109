"""The JSON API of `derive serve`, against a real uvicorn server on loopback: every endpoint,
every error code, the security headers, the rate limit. Expectations come from the problem
files themselves (read with tomllib), from `derive check --json`, and from the seeds."""
import json
import re
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from mlp import mlp_file
from serving import request, running

from derive.cli import main
from derive.runtime import limits
from derive.serve.app import MAX_ANSWER, MAX_BODY, Settings

ROOT = Path(__file__).resolve().parents[2]
PROBLEM6 = tomllib.loads((ROOT / "problems" / "two-hidden-deltas.toml").read_text())
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def served():
    with running(Settings(rate_limit=0, workers=2)) as (base, app):
        yield base, app


@pytest.fixture(scope="module")
def server(served):
    return served[0]


@pytest.fixture(scope="module")
def closed():
    """--no-solutions, and a rate limit of 3 at once then 1 a second."""
    with running(Settings(solutions=False, rate_limit=60, burst=3, workers=1)) as (base, app):
        yield base


def post(base, path, **body):
    return request(base, "POST", path, body)


# ---- the endpoints ---------------------------------------------------------------------------
def test_problem_list_is_the_catalogue(server):
    status, headers, rows = request(server, "GET", "/api/problems")
    assert status == 200 and headers["content-type"].startswith("application/json")
    files = sorted((ROOT / "problems").rglob("*.toml"))       # the seeds and the library
    assert len(rows) == len(files)
    six = next(r for r in rows if r["alias"] == "problem6")
    assert six["id"] == PROBLEM6["id"] and six["title"] == PROBLEM6["title"]
    assert six["quantities"] == PROBLEM6["quantities"]


@pytest.mark.parametrize("name", ["problem6", "two-hidden-deltas"])
def test_problem_detail_has_statement_quantities_graph_and_solution(server, name):
    status, _, p = request(server, "GET", f"/api/problems/{name}")
    assert status == 200 and p["id"] == "two-hidden-deltas" and p["solutions"] is True
    maths = [part["math"] for block in p["statement"] for part in block["parts"] if "math" in part]
    assert maths == re.findall(r"\$([^$]+)\$", PROBLEM6["statement"])      # every formula, in order
    assert [q["name"] for q in p["quantities"]] == PROBLEM6["quantities"]
    assert {q["kind"] for q in p["quantities"]} == {"gradient"}
    svg = ET.fromstring(p["graph_svg"])
    labels = {"".join(t.itertext()).replace("\u200b", "") for t in svg.iter(f"{SVG}text")}
    assert set(PROBLEM6["symbols"]) <= labels                              # W1 is W with a subscript 1
    assert not list(svg.iter(f"{SVG}script")) and "href=\"http" not in p["graph_svg"]
    results = {q["name"]: q for q in p["solution"]["quantities"]}
    assert results["drho/dW1"]["text"] == "delta2*x^T" and results["drho/dW1"]["shape"] == "d_H×d"  # seed 003, 1(a)
    assert any(s["name"] == "delta2" for s in p["solution"]["steps"])


def test_no_solutions_hides_the_solution_and_model_answers(closed):
    _, _, p = request(closed, "GET", "/api/problems/problem6")
    assert p["solutions"] is False and p["solution"] is None
    model = tomllib.loads((ROOT / "problems" / "gradient-checking.toml").read_text())
    status, _, r = post(closed, "/api/check", problem="problem21", quantity=model["quantities"][0]["name"],
                        answer="the relative error is scale free")
    assert status == 200 and r["verdict"] == "undecided"
    assert model["quantities"][0]["model_answer"].split()[3] not in " ".join(r["feedback"])


@pytest.mark.parametrize("answer", ["delta2 x^T", "x delta2^T", r"\delta^2 x^\top", "delta2 x^", "W1 + ", "q x"])
def test_check_returns_exactly_what_derive_check_json_prints(server, answer, capsys):
    status, _, got = post(server, "/api/check", problem="problem6", quantity="drho/dW1", answer=answer)
    main(["check", "problem6", "drho/dW1", answer, "--json"])
    assert status == 200 and got == json.loads(capsys.readouterr().out)


def test_check_verdicts_for_the_right_and_the_transposed_answer(server):
    _, _, right = post(server, "/api/check", problem="problem6", quantity="drho/dW1", answer="delta2 x^T")
    _, _, wrong = post(server, "/api/check", problem="problem6", quantity="drho/dW1", answer="x delta2^T")
    assert right["verdict"] == "correct" and right["score"] == 1.0
    assert wrong["verdict"] == "incorrect" and wrong["diagnosis"] == ["transpose"]


def test_preview_shows_what_was_read_or_where_it_stops(server):
    status, _, ok = post(server, "/api/preview", problem="problem6", quantity="drho/dW1", answer="x delta2^T")
    assert status == 200 and ok["ok"] and ok["interpreted"] == r"x \delta^{2\top}"   # the transpose is kept
    # (in the statement's notation: problem6 writes delta^2 and W^2)
    _, _, latex = post(server, "/api/preview", problem="problem6", quantity="drho/dW1", answer=r"\delta^2 x^\top",
                       format="latex")
    assert latex["interpreted"] == r"{\delta^{2}} x^{\top}"
    answer = "delta2 + * x"
    _, _, bad = post(server, "/api/preview", problem="problem6", quantity="drho/dW1", answer=answer)
    assert bad["ok"] is False and bad["offset"] == answer.index("*") and "missing" in bad["error"]
    _, _, grouped = post(server, "/api/preview", problem="problem6", quantity="delta2",
                         answer="(W2^T delta3) .* sigma'(Z1)")
    assert grouped["interpreted"] == r"\left(W^{2\top} {\delta^{3}}\right) \odot \sigma'\left({Z^{1}}\right)"


def test_page_and_vendored_libraries_are_served(server):
    status, headers, page = request(server, "GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts == ["/static/vendor/katex/katex.min.js", "/static/vendor/mathlive/mathlive.min.js",
                       "/static/app.js"]
    assert "<script>" not in page and "http" not in page.replace('http-equiv', '')   # no inline script, no CDN
    for path in scripts + ["/static/vendor/katex/katex.min.css", "/static/vendor/katex/fonts/KaTeX_Main-Regular.woff2",
                           "/static/vendor/katex/LICENSE", "/static/vendor/mathlive/LICENSE.txt"]:
        status, headers, _ = request(server, "GET", path)
        assert status == 200, path
    assert request(server, "GET", "/static/app.js")[1]["content-type"].startswith(("text/javascript",
                                                                                    "application/javascript"))


# ---- security headers ------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/api/problems", "/api/problems/nope", "/static/app.js", "/nowhere"])
def test_every_response_carries_the_security_headers(server, path):
    _, headers, _ = request(server, "GET", path)
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-eval" not in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"


# ---- every error code --------------------------------------------------------------------------
GOOD = {"problem": "problem6", "quantity": "drho/dW1", "answer": "delta2 x^T"}


@pytest.mark.parametrize("method, path, kwargs, status, message", [
    ("GET", "/api/problems/problem99", {}, 404, "unknown problem 'problem99'"),
    ("GET", "/api/problems/..%2f..%2fetc%2fpasswd", {}, 404, "nothing at /api/problems/../../etc/passwd"),
    ("GET", "/api/problems/..%5cproblem6.toml", {}, 404, "unknown problem"),
    ("POST", "/api/check", {"body": {**GOOD, "problem": "problems/two-hidden-deltas.toml"}}, 404, "unknown problem"),
    ("POST", "/api/check", {"body": {**GOOD, "quantity": "drho/dW9"}}, 404, "unknown quantity 'drho/dW9'"),
    ("POST", "/api/preview", {"body": {**GOOD, "quantity": "drho/dW9"}}, 404, "known: delta4, drho/dW3"),
    ("GET", "/api/nothing", {}, 404, "nothing at /api/nothing"),
    ("GET", "/api/check", {}, 405, "GET is not allowed on /api/check"),
    ("PUT", "/api/preview", {"body": GOOD}, 405, "PUT is not allowed"),
    ("POST", "/api/problems", {"body": GOOD}, 405, "POST is not allowed"),
    ("POST", "/api/check", {"raw": b"{}", "headers": {"Content-Type": "text/plain"}}, 415, "Content-Type: application/json"),
    ("POST", "/api/check", {"raw": b"answer=x"}, 415, "send the body as JSON"),
    ("POST", "/api/check", {"raw": b'{"problem": ', "headers": {"Content-Type": "application/json"}}, 400, "not valid JSON"),
    ("POST", "/api/check", {"raw": b"\xff\xfe{}", "headers": {"Content-Type": "application/json"}}, 400, "not valid JSON"),
    ("POST", "/api/check", {"raw": b"[" * 8000 + b"]" * 8000, "headers": {"Content-Type": "application/json"}}, 400,
     "not valid JSON"),
    ("POST", "/api/check", {"body": ["problem6", "drho/dW1", "x"]}, 422, "must be a JSON object"),
    ("POST", "/api/check", {"body": {"problem": "problem6", "quantity": "drho/dW1"}}, 422, "'answer' is missing"),
    ("POST", "/api/check", {"body": {**GOOD, "answer": 42}}, 422, "'answer' must be a string"),
    ("POST", "/api/check", {"body": {**GOOD, "answer": None}}, 422, "'answer' must be a string"),
    ("POST", "/api/check", {"body": {**GOOD, "__class__": "x"}}, 422, "unknown field '__class__'"),
    ("POST", "/api/check", {"body": {**GOOD, "format": "python"}}, 422, "format must be one of auto, text, latex"),
    ("POST", "/api/check", {"body": {**GOOD, "problem": "p" * 300}}, 422, "longer than 200 characters"),
    ("POST", "/api/check", {"body": {**GOOD, "answer": "x" * (MAX_ANSWER + 1)}}, 413, f"longer than {MAX_ANSWER} bytes"),
    ("POST", "/api/check", {"body": {**GOOD, "answer": "é" * (MAX_ANSWER // 2 + 1)}}, 413, "longer than"),
    ("POST", "/api/preview", {"body": {**GOOD, "answer": "x" * (MAX_BODY + 10)}}, 413,
     f"body is larger than {MAX_BODY} bytes"),
])
def test_errors_are_json_messages_with_the_right_status(server, method, path, kwargs, status, message):
    got, headers, body = request(server, method, path, **kwargs)
    assert got == status, body
    assert headers["content-type"] == "application/json" and set(body) == {"error"}
    assert message in body["error"] and "Traceback" not in body["error"]
    if status == 405:
        assert "POST" in headers["allow"] or "GET" in headers["allow"]


def test_a_chunked_body_over_the_cap_is_refused_while_it_streams(server):
    import http.client
    host, port = server.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    chunks = (b'{"answer": "' + b"x" * 4096 + b'"' for _ in range(6))         # no Content-Length
    conn.request("POST", "/api/check", body=chunks, headers={"Content-Type": "application/json"},
                 encode_chunked=True)
    r = conn.getresponse()
    assert r.status == 413 and "larger than" in json.loads(r.read())["error"]
    conn.close()


def test_an_internal_error_is_a_json_message_without_a_traceback(served, monkeypatch):
    base, app = served

    def boom():
        raise RuntimeError("secret detail /etc/shadow")
    monkeypatch.setattr(app.catalogue, "listing", boom)
    status, headers, body = request(base, "GET", "/api/problems")
    assert status == 500 and body == {"error": "internal error; the server's log has the details"}
    assert "content-security-policy" in headers


def test_a_problem_over_the_solve_limit_is_a_json_error_not_a_hang(tmp_path, monkeypatch):
    """A served folder's problem that takes seconds to solve, under a tiny limit: the request's
    thread stops at the limit (it holds in any thread), the answer is a JSON 500 naming the
    problem and the limit but not the folder; the failure is remembered (asked again with the
    default limit it answers at once), and the other problems are served."""
    mlp_file(40, 3, str(tmp_path))               # about 4 s to solve on a quiet machine
    monkeypatch.setattr(limits, "SOLVE_TIMEOUT", 0.05)
    with running(Settings(problems=(str(tmp_path),), rate_limit=0, workers=1)) as (base, _):
        for limit in (0.05, 30):
            monkeypatch.setattr(limits, "SOLVE_TIMEOUT", limit)
            start = time.monotonic()
            status, headers, body = request(base, "GET", "/api/problems/mlp-40x3")
            assert time.monotonic() - start < 3
            assert status == 500 and headers["content-type"].startswith("application/json")
            assert "mlp-40x3" in body["error"] and "took longer than 0.05 s" in body["error"], body
            assert str(tmp_path) not in body["error"] and "Traceback" not in body["error"]
        status, _, p = request(base, "GET", "/api/problems/problem1")
        assert status == 200 and p["solution"]["quantities"]


def test_hostile_answers_are_graded_never_run(server, tmp_path):
    marker = tmp_path / "pwned"
    for answer in [f"__import__('os').system('touch {marker}')", "eval('1')", "lambda: 1", "x.__class__",
                   "9^9^9^9", "(" * 2000 + "x" + ")" * 2000, "\x00\x01", "x" * 3000]:
        status, _, r = post(server, "/api/check", problem="problem6", quantity="drho/dW1", answer=answer)
        assert status == 200 and r["verdict"] in ("invalid", "incorrect", "undecided"), (answer, r)
        status, _, p = post(server, "/api/preview", problem="problem6", quantity="drho/dW1", answer=answer)
        assert status == 200 and (p["ok"] is False or p["interpreted"])
    assert not marker.exists()


# ---- the rate limit --------------------------------------------------------------------------------
def test_rate_limit_answers_429_with_retry_after(closed):
    import time
    time.sleep(3.1)                                   # let the bucket refill from earlier tests
    codes = [request(closed, "GET", "/api/problems")[0] for _ in range(3)]
    status, headers, body = request(closed, "GET", "/api/problems")
    assert codes == [200, 200, 200] and status == 429
    assert int(headers["retry-after"]) >= 1 and "too many requests" in body["error"]
    assert request(closed, "GET", "/")[0] == 200                # the page itself is not limited
    time.sleep(int(headers["retry-after"]))
    assert request(closed, "GET", "/api/problems")[0] == 200


def test_rate_limiter_refills_and_forgets_old_clients():
    from derive.serve.app import RateLimiter
    now = [0.0]
    rl = RateLimiter(per_minute=60, burst=2, max_clients=3, clock=lambda: now[0])
    assert [rl.wait("a") for _ in range(3)] == [0, 0, 1.0]
    now[0] = 0.5
    assert rl.wait("a") == pytest.approx(0.5) and rl.wait("b") == 0
    now[0] = 2.0
    assert rl.wait("a") == 0
    for c in "cdef":
        rl.wait(c)
    assert len(rl.buckets) == 3 and "a" not in rl.buckets


# ---- the command ------------------------------------------------------------------------------------
def test_derive_serve_binds_loopback_by_default_and_serves_the_page(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "derive.cli", "serve", "--port", "0", "--log-level", "warning",
                             "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://(\S+):(\d+)/", line)
        assert m and m[1] == "127.0.0.1", line
        assert f"{len(list((ROOT / 'problems').rglob('*.toml')))} problems" in line and "solutions shown" in line
        status, _, page = request(f"http://127.0.0.1:{m[2]}", "GET", "/")
        assert status == 200 and "derive" in page
    finally:
        proc.terminate()
        proc.wait(20)


def test_serve_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "derive serve --problems my-problems --no-solutions" in out
    assert "--host" in out and "127.0.0.1" in out


def test_bad_options_are_one_error_line(capsys):
    assert main(["serve", "--timeout", "-1", "--port", "0"]) == 2
    assert main(["serve", "--workers", "0", "--port", "0"]) == 2
    assert main(["serve", "--port", "99999"]) == 2 and main(["serve", "--port", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("Error: ") == 4 and "timeout" in err and "--workers" in err and "Traceback" not in err
    assert "Error: --port 99999: a port is a number from 0 to 65535" in err
