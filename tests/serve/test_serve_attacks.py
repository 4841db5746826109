"""`derive serve` against a second round of attacks (issue 20, item 8), on a real uvicorn server
configured exactly as `derive serve` configures it (serve.server_config)."""
from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

uvicorn = pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")
pytest.importorskip("starlette", reason="the serve extra (starlette) is not installed")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from serving import request  # noqa: E402

from derive.serve import listen, server_config  # noqa: E402
from derive.serve import slow  # noqa: E402
from derive.serve.app import Settings, client_address, create_app, trusted_proxies  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def running(settings: Settings):
    app = create_app(settings)
    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(server_config(app, "warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture(scope="module")
def closed():
    with running(Settings(solutions=False, workers=1, rate_limit=0)) as base:
        yield base


def raw_post(base, path, body: bytes):
    return request(base, "POST", path, raw=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", ["/api/check", "/api/preview"])
@pytest.mark.parametrize("field", ["answer", "problem", "quantity"])
def test_a_lone_surrogate_is_a_400_not_a_500(closed, path, field):
    body = {"problem": "problem1", "quantity": "dL/db3", "answer": "dL/dh3 f3'"}
    text = json.dumps(body).replace(json.dumps(body[field]), '"x\\ud800"', 1)
    status, _, reply = raw_post(closed, path, text.encode())
    assert status == 400 and reply["error"] == f"the field {field!r} holds a lone surrogate (\\ud800), which is not text"


@pytest.mark.parametrize("answer", ["7 x 9", "9 x 7 x 2", "32 x 1024", "1024 x 33"])
def test_no_solutions_gives_no_shape_away_in_feedback(closed, answer):
    status, _, res = request(closed, "POST", "/api/check",
                             {"problem": "problem11", "quantity": "shape_A", "answer": answer})
    assert status == 200 and res["verdict"] == "incorrect"
    said = " ".join(res["feedback"])
    assert "×" not in said and "not 32" not in said and ("1024" not in said or "1024" in answer), said


@pytest.mark.parametrize("length", [10_000, 100_000])
def test_a_long_unknown_name_is_not_echoed(closed, length):
    status, _, body = request(closed, "GET", "/api/problems/" + "a" * length)
    assert status in (400, 404, 414) and len(json.dumps(body)) < 1000


def test_slow_requests_are_closed_after_the_request_timeout(monkeypatch):
    monkeypatch.setattr(slow.TimedH11Protocol, "request_timeout", 1.0)
    with running(Settings(workers=1, rate_limit=0)) as base:
        port = int(base.rsplit(":", 1)[1])
        socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(50)]
        for s in socks:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")          # headers never finished
        start = time.monotonic()
        for s in socks:
            s.settimeout(8)
            assert s.recv(100) == b""                            # closed by the server
            s.close()
        assert time.monotonic() - start < 8
        # a slow body is held to the same deadline
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST /api/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        s.settimeout(8)
        assert s.recv(1000) == b""
        s.close()
        assert request(base, "GET", "/api/problems")[0] == 200   # a normal client is still served


def test_a_pipelined_request_whose_body_never_comes_is_closed_after_the_request_timeout(monkeypatch):
    """The deadline starts again after a response even when the next request's headers came with the
    previous request: its body must still arrive in time (it held a connection open for ever)."""
    monkeypatch.setattr(slow.TimedH11Protocol, "request_timeout", 1.0)
    with running(Settings(workers=1, rate_limit=0)) as base:
        s = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=10)
        s.sendall(b"GET /api/problems/problem6 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"POST /api/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n")
        start, got = time.monotonic(), b""
        s.settimeout(8)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        s.close()
        assert got.startswith(b"HTTP/1.1 200") and time.monotonic() - start < 6


@pytest.mark.parametrize("head", [b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 200_000 + b"\r\n",
                                  b"GET /" + b"a" * 200_000], ids=["headers", "url"])
def test_a_huge_request_head_is_refused_at_once(head):
    with running(Settings(workers=1, rate_limit=0)) as base:
        s = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=10)
        try:
            s.sendall(head)
        except OSError:
            pass                                          # closed while sending: refused
        s.settimeout(5)                                   # well before the request deadline (10 s)
        try:
            reply = s.recv(100)
        except ConnectionResetError:
            reply = b"HTTP/1.1 400 (reset)"
        s.close()
        assert reply.startswith(b"HTTP/1.1 400"), reply
        assert request(base, "GET", "/api/problems")[0] == 200
        # a whole request of headers and a body in one write, near each limit, is read as usual
        body = json.dumps({"problem": "problem6", "quantity": "drho/dW1", "answer": "delta2 x^T" + " " * 3000})
        s = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=10)
        s.sendall(b"POST /api/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Pad: "
                  + b"a" * 12_000 + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body.encode())
        reply = s.recv(100)
        s.close()
        assert reply.startswith(b"HTTP/1.1 200"), reply


def test_forwarded_for_counts_only_from_configured_proxies():
    scope = {"client": ("10.0.0.5", 1), "headers": [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.7")]}
    assert client_address(scope, ()) == "10.0.0.5"                             # not configured: the peer
    assert client_address(scope, trusted_proxies("10.0.0.0/8")) == "203.0.113.7"
    assert client_address(scope, trusted_proxies("192.168.0.1")) == "10.0.0.5"   # not a proxy we trust
    chain = {"client": ("10.0.0.5", 1), "headers": [(b"x-forwarded-for", b"203.0.113.7, 10.0.0.9")]}
    assert client_address(chain, trusted_proxies("10.0.0.0/8")) == "203.0.113.7"
    junk = {"client": ("10.0.0.5", 1), "headers": [(b"x-forwarded-for", b"not-an-ip")]}
    assert client_address(junk, trusted_proxies("*")) == "10.0.0.5"
    with pytest.raises(ValueError, match="not an IP address"):
        trusted_proxies("10.0.0.0/8, proxy.example")


def test_behind_a_proxy_each_student_has_their_own_bucket():
    with running(Settings(workers=1, rate_limit=60, burst=2, forwarded_allow_ips=("127.0.0.1",))) as base:
        ann = {"X-Forwarded-For": "198.51.100.1"}
        codes = [request(base, "GET", "/api/problems", headers=ann)[0] for _ in range(3)]
        assert codes == [200, 200, 429]
        assert request(base, "GET", "/api/problems", headers={"X-Forwarded-For": "198.51.100.2"})[0] == 200
    with running(Settings(workers=1, rate_limit=60, burst=2)) as base:          # no proxy configured
        codes = [request(base, "GET", "/api/problems", headers={"X-Forwarded-For": f"198.51.100.{i}"})[0]
                 for i in range(3)]
        assert codes == [200, 200, 429]                       # a spoofed header buys nothing


def test_a_client_that_leaves_mid_body_is_not_an_internal_error(caplog):
    """Each aborted POST body logged "internal error" and two tracebacks (4.7 KB): a log flood."""
    with running(Settings(workers=1, rate_limit=0)) as base:
        port = int(base.rsplit(":", 1)[1])
        with caplog.at_level(logging.INFO):
            for _ in range(5):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(b"POST /api/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100\r\n\r\n{\"problem\"")
                s.close()
            time.sleep(0.5)
            assert request(base, "POST", "/api/check", {"problem": "problem6", "quantity": "drho/dW1",
                                                          "answer": "delta2 x^T"})[2]["verdict"] == "correct"
        said = caplog.text
        assert "internal error" not in said and "Traceback" not in said and "Exception in ASGI" not in said, said


def test_a_client_that_does_not_read_its_replies_is_cut_off(monkeypatch):
    """Pipelined requests for a large file, never read: the connection was held for ever."""
    monkeypatch.setattr(slow.TimedH11Protocol, "request_timeout", 1.0)
    with running(Settings(workers=1, rate_limit=0)) as base:
        port = int(base.rsplit(":", 1)[1])
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        big = next(p for p in sorted((ROOT / "derive" / "serve" / "static").rglob("*.js"), key=lambda p: -p.stat().st_size))
        path = "/static/" + big.relative_to(ROOT / "derive" / "serve" / "static").as_posix()
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() * 200)
        time.sleep(3)                                       # read nothing for well over the timeout
        s.settimeout(5)
        got, start = 0, time.monotonic()
        try:
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                got += len(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
        s.close()
        assert got < 200 * big.stat().st_size and time.monotonic() - start < 10     # cut off, not every reply
        assert request(base, "GET", "/api/problems")[0] == 200
