"""Who is asking: signed tokens (HMAC-SHA256 with the server's secret), the roster, personal links.

A token is `base64url(payload).base64url(mac)`, the payload a small JSON object
{"s": student id, "k": "student" | "instructor", "e": expiry (Unix seconds) or 0}. Nothing about
a student is secret in it; what cannot be forged is the MAC. The secret lives in a file beside
the server (`--secret-file`, created on first use, mode 0600) or in $DERIVE_SECRET, never in the
database. A student's variant comes from the same `seed_for(id, salt)` (or the roster's `seed`
column) as the roster sheets, so the printed sheet and the page agree.
"""
from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from derive.errors import DeriveError
from derive.runtime.spreadsheet import cell
from derive.variants import Student, read_roster

MAX_TOKEN = 1024                   # characters: anything longer is junk
DEFAULT_DAYS = 200                 # a personal link lasts a semester and a bit
_SHAPE = re.compile(r"[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{43}\Z")      # base64url payload . 32-byte MAC
KINDS = ("student", "instructor", "lti")      # lti: an LTI login's state (lti.py)


class TokenError(DeriveError):
    """A token that is missing, malformed, forged, altered or expired: HTTP 401 with this message."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(path: str | None = None, create: bool = True) -> bytes:
    """The server's secret: $DERIVE_SECRET, else the file `path` (created with 32 random bytes)."""
    env = os.environ.get("DERIVE_SECRET", "")
    if env:
        if len(env) < 16:
            raise DeriveError("DERIVE_SECRET is shorter than 16 characters; use a long random string")
        return env.encode()
    p = Path(path or "derive-secret.key")
    if not p.exists() and create:
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        except OSError as e:
            raise DeriveError(f"{p}: cannot create the secret file: {e.strerror}") from None
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
    try:
        text = p.read_text().strip()
    except OSError as e:
        raise DeriveError(f"{p}: cannot read the secret file: {e.strerror}") from None
    if len(text) < 16:
        raise DeriveError(f"{p}: the secret is shorter than 16 characters")
    return text.encode()


class Tokens:
    """Makes and checks signed tokens with one secret."""

    def __init__(self, secret: bytes, clock=time.time):
        if len(secret) < 16:
            raise DeriveError("the token secret must be at least 16 bytes")
        self._key = hashlib.sha256(b"derive-token\0" + secret).digest()
        self.clock = clock

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def make(self, subject: str, kind: str = "student", days: float | None = DEFAULT_DAYS) -> str:
        if kind not in KINDS:
            raise ValueError(kind)
        expiry = int(self.clock() + days * 86400) if days else 0
        payload = json.dumps({"s": subject, "k": kind, "e": expiry}, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def check(self, token: str | None, kind: str = "student") -> str:
        """The subject of a valid token of `kind`; TokenError with a clear message otherwise."""
        if not token:
            raise TokenError("this server needs your personal link: open the link your instructor sent "
                             "(or send the header Authorization: Bearer TOKEN)")
        if len(token) > MAX_TOKEN or not _SHAPE.match(token):
            raise TokenError("the token is not a derive token (it is damaged: open your personal link again)")
        head, mac = token.split(".")
        try:
            payload, given = _unb64(head), _unb64(mac)
        except (binascii.Error, ValueError):
            raise TokenError("the token is not a derive token (it is damaged: open your personal link again)") from None
        if not hmac.compare_digest(given, self._mac(payload)):
            raise TokenError("the token's signature is wrong: it was altered or made with another secret")
        try:
            data = json.loads(payload)
            subject, got, expiry = data["s"], data["k"], int(data["e"])
        except (ValueError, KeyError, TypeError):
            raise TokenError("the token's content is unreadable") from None
        if got != kind:
            raise TokenError(f"this is {'an' if got == 'instructor' else 'a'} {got} token; this page needs "
                             f"{'an' if kind == 'instructor' else 'a'} {kind} token")
        if expiry and expiry < self.clock():
            raise TokenError("the token has expired; ask your instructor for a new link")
        return str(subject)


@dataclass(frozen=True)
class Roster:
    """The class: students by id, each with their seed."""
    students: dict                  # id -> Student

    @classmethod
    def read(cls, path, salt: str = "") -> "Roster":
        return cls({s.id: s for s in read_roster(path, salt)})

    def get(self, student_id: str) -> Student | None:
        return self.students.get(student_id)


def bearer(headers) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header (a Starlette Headers or a dict)."""
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def link(base_url: str, token: str) -> str:
    """base_url with ?token=TOKEN (keeping its path and any other query parameters)."""
    parts = urlsplit(base_url)
    query = parts.query + ("&" if parts.query else "") + urlencode({"token": token})
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))


def links_csv(roster: Roster, tokens: Tokens, base_url: str, days: float | None = DEFAULT_DAYS) -> str:
    """`id,name,url` for every student, in roster order: what the instructor mails out."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "name", "url"])
    for s in roster.students.values():
        # a name or id that begins like a formula is text in a spreadsheet (runtime/spreadsheet.py)
        w.writerow([cell(s.id), cell(s.name), link(base_url, tokens.make(s.id, "student", days))])
    return out.getvalue()


def cmd_links(args) -> int:
    parts = urlsplit(args.base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DeriveError(f"--base-url {args.base_url!r} is not an http(s) address, e.g. https://derive.example.edu/")
    if args.days < 0:
        raise DeriveError("--days must be at least 0 (0: links never expire)")
    roster = Roster.read(args.roster, args.salt)
    text = links_csv(roster, Tokens(load_secret(args.secret_file)), args.base_url, args.days or None)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"derive links: {len(roster.students)} links written to {args.output}")
    else:
        print(text, end="")
    return 0


def register_links(subparsers, secret_help: str) -> None:
    import argparse
    p = subparsers.add_parser(
        "links", help="a personal link per student of a roster (for `derive serve --roster`)",
        description="Write id,name,url for every student of ROSTER: each url ends in ?token=TOKEN, a token "
                    "signed with the server's secret, so the server knows the student without passwords. "
                    "Use the same --roster, --salt and secret as `derive serve`.",
        epilog="example:\n  derive links --roster roster.csv --salt fall26 --base-url https://derive.example.edu/ "
               "-o links.csv", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--roster", required=True, metavar="CSV", help="the roster (id, name, optional seed columns)")
    p.add_argument("--salt", default="", help="the roster's salt (the same as for the sheets and the server)")
    p.add_argument("--base-url", required=True, metavar="URL", help="the server's public address")
    p.add_argument("--secret-file", default="derive-secret.key", metavar="FILE", help=secret_help)
    p.add_argument("--days", type=float, default=DEFAULT_DAYS, help=f"days a link stays valid (default "
                   f"{DEFAULT_DAYS}; 0: never expires)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the CSV here instead of printing it")
    p.set_defaults(func=cmd_links)
