"""The web application (Starlette): the page, its static files and the JSON API.

    GET  /api/problems            the catalogue
    GET  /api/problems/{id}       statement, quantities, graph SVG (and the solution unless --no-solutions)
    POST /api/check               {"problem", "quantity", "answer", "format"?} -> CheckResult.to_dict()
    POST /api/preview             the same body -> what the parser read, or the error with its offset

Hostile input is expected: bodies over 16 KB and answers over 4 KB get 413, anything that is
not a JSON object of strings gets 415, 400 or 422, every error is a JSON {"error": message}
(never a traceback), each client address has a token bucket (429 with Retry-After), and every
response carries a Content-Security-Policy that allows scripts from this server only.
Checks and solving run in a thread pool, so the event loop never waits for a worker.
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from derive.errors import UnknownError, Unsolvable
from derive.grading.checker import valid_timeout
from derive.serve.api import FORMATS, Catalogue, make_checker

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 16 * 1024          # bytes in one request body
MAX_ANSWER = 4 * 1024         # bytes (UTF-8) in one answer
MAX_NAME = 200                # characters in a problem or quantity name
FIELDS = ("problem", "quantity", "answer", "format")
_SURROGATE = re.compile("[\ud800-\udfff]")      # valid JSON ("\ud800"), but not text: 500 on the way out
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
                    (b"cross-origin-opener-policy", b"same-origin")]
log = logging.getLogger("derive.serve")


@dataclass(frozen=True)
class Settings:
    problems: tuple = ()          # extra problem folders
    solutions: bool = True        # serve the worked solutions
    workers: int = 2              # checking processes
    rate_limit: int = 600         # requests per minute per client address on /api/ (0: no limit)
    burst: int = 60               # requests a client may make at once before the rate applies
    timeout: float = 2.0          # seconds per check
    forwarded_allow_ips: tuple = ()   # proxies whose X-Forwarded-For names the client ("*": any)
    course: object = None         # course.Course: students, attempts, dashboard, LTI (None: the open page)


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        self.status, self.message = status, message


# ---- per-client token buckets ------------------------------------------------------------------
class RateLimiter:
    """A token bucket per client address: `burst` at once, then `per_minute` a minute. The table
    is bounded (least recently seen addresses are forgotten first)."""

    def __init__(self, per_minute: int, burst: int, max_clients: int = 10_000, clock=time.monotonic):
        self.rate, self.burst, self.max_clients, self.clock = per_minute / 60.0, max(1, burst), max_clients, clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def wait(self, client: str) -> float:
        """0 if the request may go ahead (and takes a token), else seconds until it may."""
        now = self.clock()
        tokens, then = self.buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1:
            self.buckets[client] = (tokens - 1, now)
            out = 0.0
        else:
            self.buckets[client] = (tokens, now)
            out = (1 - tokens) / self.rate
        while len(self.buckets) > self.max_clients:
            self.buckets.popitem(last=False)
        return out


def trusted_proxies(spec) -> tuple:
    """--forwarded-allow-ips: addresses or networks (10.0.0.0/8), comma-separated or a list; '*' any."""
    items = [x.strip() for x in (spec.split(",") if isinstance(spec, str) else spec or ()) if x.strip()]
    out = []
    for x in items:
        try:
            out.append("*" if x == "*" else ipaddress.ip_network(x, strict=False))
        except ValueError:
            raise ValueError(f"--forwarded-allow-ips: {x[:60]!r} is not an IP address or network") from None
    return tuple(out)


def client_address(scope, proxies: tuple) -> str:
    """The client a rate-limit bucket is for: the peer, or (when the peer is a trusted proxy) the
    nearest address in X-Forwarded-For that is not itself a trusted proxy."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for v in (val for key, val in scope.get("headers", ()) if key == b"x-forwarded-for")
            for h in v.decode("latin-1").split(",")][-32:]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop if _address(hop) is not None else peer
    return hops[0] if hops and _address(hops[0]) is not None else peer


def _address(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(text: str, proxies: tuple) -> bool:
    a = _address(text)
    return a is not None and any(p == "*" or a in p for p in proxies)


class Guard:
    """ASGI middleware: security headers on every response, the rate limit and the body cap on /api/."""

    def __init__(self, app, limiter: RateLimiter | None, catalogue: Catalogue | None = None, proxies: tuple = (),
                 identify=None, frame_ancestors: tuple = ()):
        self.app, self.limiter, self.catalogue, self.proxies = app, limiter, catalogue, proxies
        self.headers = SECURITY_HEADERS if not frame_ancestors else [     # an LMS may show the page in its frame
            (b"content-security-policy", CSP.replace(
                "frame-ancestors 'none'", "frame-ancestors " + " ".join(frame_ancestors)).encode()),
            *[h for h in SECURITY_HEADERS if h[0] not in (b"content-security-policy", b"x-frame-options")]]
        self.identify = identify          # scope -> a student's key (rate limits per student), or None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + self.headers}
            await send(message)

        if scope["path"].startswith("/api/"):
            if self.limiter is not None:
                client = (self.identify and self.identify(scope)) or client_address(scope, self.proxies)
                wait = self.limiter.wait(client)
                if wait:
                    seconds = max(1, math.ceil(wait))
                    return await _reply(send_with_headers, 429, f"too many requests from {client}; "
                                        f"try again in {seconds} s", [(b"retry-after", str(seconds).encode())])
            length = dict(scope.get("headers", ())).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
                return await _reply(send_with_headers, 413, f"the request body is larger than {MAX_BODY} bytes")
        await self.app(scope, receive, send_with_headers)


async def _reply(send, status: int, message: str, headers=()):
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), *headers]})
    await send({"type": "http.response.body", "body": body})


# ---- reading a request ---------------------------------------------------------------------------
async def read_answer(request: Request) -> dict:
    """The JSON body of /api/check and /api/preview, validated: problem, quantity, answer, format."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, "send the body as JSON with the header Content-Type: application/json")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, f"the request body is larger than {MAX_BODY} bytes")
    try:
        data = json.loads(bytes(body))
    except (ValueError, RecursionError) as e:
        raise ApiError(400, f"the body is not valid JSON ({str(e)[:120]})") from None
    if not isinstance(data, dict):
        raise ApiError(422, 'the body must be a JSON object: {"problem": ..., "quantity": ..., "answer": ...}')
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ApiError(422, f"unknown field {unknown[0][:40]!r}; the fields are {', '.join(FIELDS)}")
    data.setdefault("format", "auto")
    for key in FIELDS:
        if key not in data:
            raise ApiError(422, f"the field {key!r} is missing")
        if not isinstance(data[key], str):
            raise ApiError(422, f"the field {key!r} must be a string")
    for key in FIELDS:
        bad = _SURROGATE.search(data[key])
        if bad:
            raise ApiError(400, f"the field {key!r} holds a lone surrogate (\\u{ord(bad[0]):04x}), which is not text")
    if len(data["answer"].encode("utf-8")) > MAX_ANSWER:
        raise ApiError(413, f"the answer is longer than {MAX_ANSWER} bytes")
    for key in ("problem", "quantity"):
        if len(data[key]) > MAX_NAME:
            raise ApiError(422, f"the field {key!r} is longer than {MAX_NAME} characters")
    if data["format"] not in FORMATS:
        raise ApiError(422, f"format must be one of {', '.join(FORMATS)}")
    return data


def _json(data, status: int = 200, headers=None) -> JSONResponse:
    return JSONResponse(data, status, headers={**(headers or {}), "cache-control": "no-store"})


# ---- the application -------------------------------------------------------------------------------
def create_app(settings: Settings = Settings()) -> Guard:
    """The ASGI app for `settings` (Starlette inside the Guard, so even a 500 carries the headers);
    the catalogue is read here, so a bad problem file fails at start, not on the first request."""
    valid_timeout(settings.timeout)                    # a bad value is a usage error now, not at startup
    catalogue = Catalogue(list(settings.problems), settings.solutions)
    state: dict = {}
    threads = anyio.CapacityLimiter(max(4, 8 * settings.workers))
    previews = anyio.CapacityLimiter(2)    # parsing is bounded but not free: never on the event loop, never all threads

    async def in_thread(fn, *args):
        return await anyio.to_thread.run_sync(fn, *args, limiter=threads)

    async def index(request):
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    async def problems(request):
        return _json(catalogue.listing())

    async def problem(request):
        return _json(await in_thread(catalogue.detail, request.path_params["name"]))

    async def check(request):
        d = await read_answer(request)
        res = await in_thread(catalogue.check, state["checker"], d["problem"], d["quantity"], d["answer"], d["format"])
        return _json(res.to_dict())

    async def preview(request):
        d = await read_answer(request)
        return _json(await anyio.to_thread.run_sync(catalogue.preview, d["problem"], d["quantity"], d["answer"],
                                                    d["format"], limiter=previews))

    async def api_error(request, exc: ApiError):
        return _json({"error": exc.message}, exc.status)

    async def unknown(request, exc: UnknownError):
        return _json({"error": str(exc)}, 404)

    async def unsolvable(request, exc: Unsolvable):
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return _json({"error": str(exc)}, 500)

    async def http_error(request, exc: HTTPException):
        message = {404: f"nothing at {request.url.path[:100]}",
                   405: f"{request.method} is not allowed on {request.url.path[:100]}"}.get(exc.status_code, exc.detail)
        return _json({"error": message}, exc.status_code, exc.headers)

    async def gone(request, exc: ClientDisconnect):      # a client that left mid-body: nothing to answer
        log.info("%s %s: the client left before sending its whole body", request.method, request.url.path)
        return Response(status_code=400)

    async def crash(request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _json({"error": "internal error; the server's log has the details"}, 500)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        state["checker"] = make_checker(settings.workers, settings.timeout)
        try:
            yield
        finally:
            state.pop("checker").close()
            if settings.course is not None:
                settings.course.close()

    routes = [Route("/", index), Route("/api/problems", problems), Route("/api/problems/{name}", problem),
              Route("/api/check", check, methods=["POST"]), Route("/api/preview", preview, methods=["POST"]),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    if settings.course is not None:          # its routes come first: they replace the open page's
        routes = settings.course.routes(catalogue, state, in_thread) + routes
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={ApiError: api_error, UnknownError: unknown, HTTPException: http_error,
                                        Unsolvable: unsolvable, ClientDisconnect: gone,
                                        Exception: crash})
    return Guard(app, RateLimiter(settings.rate_limit, settings.burst) if settings.rate_limit > 0 else None, catalogue,
                 trusted_proxies(settings.forwarded_allow_ips),
                 settings.course.client if settings.course is not None else None,
                 settings.course.frame_ancestors() if settings.course is not None else ())
