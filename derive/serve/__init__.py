"""`derive serve`: a web page and JSON API for students (the optional `serve` extra).

The library never imports this package; the command line finds it through `register_cli`,
which needs nothing beyond the standard library until the server starts.
"""
from __future__ import annotations

import argparse
import dataclasses
import socket

from derive.errors import DeriveError, UsageError
from derive.serve import commands

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000


def listen(host: str, port: int) -> socket.socket:
    """The listening socket. TCP_NODELAY (inherited by each connection): without it a response's
    headers and body wait out the client's delayed ACK, 40 ms per request on a kept-alive connection."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: a port is a number from 0 to 65535 (0 picks a free one)")
    try:
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as e:
        raise DeriveError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def cmd_serve(args) -> int:
    try:                       # the optional extra: imported only when a server starts
        import uvicorn

        from derive.serve import app as app_mod
    except ModuleNotFoundError as e:
        raise DeriveError(f"derive serve needs the web extra (missing module {e.name!r}): "
                          "pip install 'derive[serve]'") from None
    if args.workers < 1 or args.rate_limit < 0:
        raise DeriveError("--workers must be at least 1 and --rate-limit at least 0")
    extra = getattr(args, "problems", None)
    try:
        proxies = app_mod.trusted_proxies(args.forwarded_allow_ips)
    except ValueError as e:
        raise DeriveError(str(e)) from None
    settings = app_mod.Settings(problems=tuple([extra] if extra else []), solutions=not args.no_solutions,
                                workers=args.workers, rate_limit=args.rate_limit,
                                burst=max(10, args.rate_limit // 10), timeout=args.timeout,
                                forwarded_allow_ips=tuple(str(p) for p in proxies))
    course = commands.make_course(args)
    if course is not None:
        settings = dataclasses.replace(settings, course=course)
    app = app_mod.create_app(settings)
    sock = listen(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"derive serve: http://{shown}:{port}/  ({len(app.catalogue.problems)} problems, "
          f"solutions {'shown' if settings.solutions else 'hidden'}, {settings.workers} workers; Ctrl-C stops)",
          flush=True)
    if course is not None:
        print(commands.started(course, f"http://{shown}:{port}/"), flush=True)
    uvicorn.Server(server_config(app, args.log_level)).run(sockets=[sock])
    return 0


def server_config(app, log_level: str = "info"):
    """uvicorn's settings: X-Forwarded-For is read by the app's own Guard (only from the proxies
    named by --forwarded-allow-ips), and a request must arrive within slow.REQUEST_TIMEOUT."""
    import uvicorn

    from derive.serve.slow import TimedH11Protocol
    return uvicorn.Config(app, http=TimedH11Protocol, log_level=log_level, proxy_headers=False, server_header=False,
                          timeout_graceful_shutdown=5, timeout_keep_alive=5)


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="a web page and JSON API where students check their answers",
        description="Serve the catalogue as a web page (statement, graph, one input per quantity with a "
                    "live preview, verdict and feedback, the solution unless --no-solutions) and as a JSON "
                    "API: GET /api/problems, GET /api/problems/ID, POST /api/check, POST /api/preview. "
                    "Binds 127.0.0.1 unless --host says otherwise. With --roster (or --lti) it is a course "
                    "server: each student opens a personal link (`derive links`), sees their own variant, "
                    "every check is stored (--db), and /instructor shows the class.",
        epilog="examples:\n  derive serve\n  derive serve --problems my-problems --no-solutions --port 8080\n"
               "  derive serve --host 0.0.0.0 --workers 4     (reachable from other machines)\n"
               "  derive serve --roster roster.csv --salt fall26 --db derive.sqlite --no-solutions",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}; "
                   "0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--no-solutions", action="store_true", help="do not serve worked solutions or model answers")
    p.add_argument("--workers", type=int, default=2, help="checking processes (default 2)")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per check (default 2)")
    p.add_argument("--rate-limit", type=int, default=600, metavar="N",
                   help="API requests per minute per client address (default 600; 0 disables)")
    p.add_argument("--forwarded-allow-ips", metavar="IPS", default="",
                   help="behind a reverse proxy: its addresses or networks, comma-separated (e.g. 127.0.0.1 or "
                        "10.0.0.0/8; * for any); X-Forwarded-For from these, and only these, names the client "
                        "whose rate limit applies (default: none, every client is its own address)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                   help="server log detail (default info: one line per request)")
    commands.add_course_options(p)
    p.set_defaults(func=cmd_serve)
    commands.register_cli(subparsers)


__all__ = ["register_cli", "cmd_serve", "listen", "server_config"]
