"""A real uvicorn server on a free loopback port, in a thread, for the API and browser tests."""
from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time

import pytest

uvicorn = pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")
pytest.importorskip("starlette", reason="the serve extra (starlette) is not installed")

from derive.serve import listen
from derive.serve.app import Settings, create_app


@contextlib.contextmanager
def running(settings: Settings = Settings()):
    """Yields (base_url, app); the server is stopped (and its checker closed) on exit."""
    app = create_app(settings)
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", proxy_headers=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def request(base: str, method: str, path: str, body=None, headers=None, raw: bytes | None = None):
    """(status, headers dict with lower-case keys, parsed JSON or text)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    hdrs = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=data, headers=hdrs)
    r = conn.getresponse()
    payload = r.read()
    out_headers = {k.lower(): v for k, v in r.getheaders()}
    conn.close()
    if out_headers.get("content-type", "").startswith("application/json"):
        return r.status, out_headers, json.loads(payload)
    return r.status, out_headers, payload.decode("utf-8", "replace")
