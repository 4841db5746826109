"""LTI 1.3: the server as a tool of Canvas, Moodle, Blackboard or Brightspace.

    GET|POST /lti/login     OIDC third-party login: redirects to the platform with a signed state
                            (the nonce inside, valid 10 minutes) and a fresh nonce
    POST     /lti/launch    the platform's id_token, checked with PyJWT against the platform's JWKS:
                            RS256 signature, issuer, audience (and azp), expiry, the nonce of the
                            state and never seen before (lti_nonces), the deployment, the message
                            type; the LMS user mapped to a roster id (or enrolled on first launch);
                            then the student's page with their token
    GET      /lti/jwks      the tool's public key (the platform checks our AGS token requests)

Scores go back through Assignment and Grade Services: after each stored check of a student
who launched from the LMS, the problem's score (the best score reached on each graded question,
summed) is posted to the line item of the launch, with an access token from the platform's
token endpoint (a client-credentials grant, our RS256-signed assertion).

The configuration is a JSON file:
    {"tool": {"private_key_file": "lti-key.pem", "url": "https://derive.example.edu/"},
     "enrol": true,
     "platforms": [{"issuer": "https://canvas.instructure.com", "client_id": "10000000000042",
                    "deployment_ids": ["1:abc"], "auth_login_url": "...", "auth_token_url": "...",
                    "jwks_url": "...", "token_audience": "(optional, default auth_token_url)"}]}
"""
from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from derive.errors import DeriveError
from derive.serve.students import TokenError, link

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
MAX_FORM = 64 * 1024           # bytes of a launch's form body
ORIGIN = re.compile(r"https://(\*\.)?[A-Za-z0-9.-]+(:\d+)?\Z")       # a frame ancestor: nothing a CSP could misread
LEEWAY = 10                    # seconds of clock difference tolerated on exp / iat
log = logging.getLogger("derive.serve.lti")


@dataclass(frozen=True)
class Platform:
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    deployment_ids: tuple = ()
    token_audience: str = ""


class LaunchError(DeriveError):
    """A login or launch that must be refused (HTTP 400 or 401 with this message)."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


def load_key(path: str):
    """The tool's RSA private key from a PEM file, created (2048 bits, mode 0600) on first use."""
    p = Path(path)
    if not p.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
    try:
        return serialization.load_pem_private_key(p.read_bytes(), password=None)
    except (OSError, ValueError) as e:
        raise DeriveError(f"{p}: not a readable PEM private key ({e})") from None


class Tool:
    def __init__(self, platforms, key, url: str = "", enrol: bool = True, roster=None, frame_ancestors=()):
        self.platforms = {(p.issuer, p.client_id): p for p in platforms}
        self.key, self.enrol, self.roster = key, enrol, roster
        self.url = url if not url or url.endswith("/") else url + "/"      # the public address, ending in /
        bad = [o for o in frame_ancestors if not ORIGIN.match(str(o))]
        if bad:
            raise DeriveError(f"frame_ancestors: {str(bad[0])[:80]!r} is not an origin like https://canvas.example.edu")
        self.frame_ancestors = tuple(frame_ancestors)
        public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        self.kid = hashlib.sha256(json.dumps(public, sort_keys=True).encode()).hexdigest()[:16]
        self.jwk = {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}
        self._jwks = {p.jwks_url: jwt.PyJWKClient(p.jwks_url, cache_keys=True, lifespan=300, timeout=10)
                      for p in platforms}
        self._access: dict = {}            # platform -> (token, expiry)
        self._users: dict = {}             # student id -> name, of those who launched
        self._lock = threading.Lock()
        self.store = self.tokens = self.catalogue = None

    @classmethod
    def from_file(cls, path, roster=None) -> "Tool":
        try:
            conf = json.loads(Path(path).read_text(encoding="utf-8"))
            platforms = [Platform(p["issuer"], str(p["client_id"]), p["auth_login_url"], p["auth_token_url"],
                                  p["jwks_url"], tuple(p.get("deployment_ids", ())), p.get("token_audience", ""))
                         for p in conf["platforms"]]
            tool = conf.get("tool", {})
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DeriveError(f"--lti {path}: not a usable LTI configuration ({type(e).__name__}: {e}); "
                              "see the README's LTI section") from None
        key_file = Path(path).parent / tool.get("private_key_file", "lti-key.pem")
        return cls(platforms, load_key(str(key_file)), tool.get("url", ""), bool(conf.get("enrol", True)), roster,
                   tuple(tool.get("frame_ancestors", ())))

    def attach(self, store, tokens) -> None:
        self.store, self.tokens = store, tokens
        for student, name in store.execute("SELECT student, name FROM lti_users"):
            self._users[student] = name

    # ---- who launched ------------------------------------------------------------------------
    def enrolled(self, student: str) -> bool:
        """Has `student` launched from the LMS (on any process sharing the database)?"""
        if student in self._users:
            return True
        row = self.store.execute("SELECT name FROM lti_users WHERE student = ?", (student,)).fetchone()
        if row is None:
            return False
        with self._lock:
            self._users[student] = row[0]
        return True

    def name_of(self, student: str) -> str:
        return self._users.get(student) or student

    def _platform(self, issuer: str, client_id: str | None) -> Platform:
        if client_id:
            p = self.platforms.get((issuer, client_id))
        else:
            found = [p for (i, _), p in self.platforms.items() if i == issuer]
            p = found[0] if len(found) == 1 else None
        if p is None:
            raise LaunchError(f"no platform {issuer[:100]!r} (client {str(client_id)[:60]!r}) is registered "
                              "with this tool", 400)
        return p

    def login(self, params: dict, base: str) -> str:
        """The platform's authorization URL to redirect the browser to."""
        for need in ("iss", "login_hint"):
            if not params.get(need):
                raise LaunchError(f"the login request lacks {need!r}", 400)
        p = self._platform(params["iss"], params.get("client_id"))
        nonce = secrets.token_urlsafe(24)
        state = self.tokens.make(f"{nonce}|{p.issuer}|{p.client_id}", "lti", days=10 / 1440)
        query = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
                 "client_id": p.client_id, "redirect_uri": (self.url or base) + "lti/launch",
                 "login_hint": params["login_hint"], "state": state, "nonce": nonce}
        if params.get("lti_message_hint"):
            query["lti_message_hint"] = params["lti_message_hint"]
        return p.auth_login_url + ("&" if "?" in p.auth_login_url else "?") + urllib.parse.urlencode(query)

    def launch(self, form: dict) -> tuple:
        """(student id, problem or None) of a valid launch; LaunchError otherwise."""
        id_token, state = form.get("id_token"), form.get("state")
        if not id_token or not state:
            raise LaunchError("the launch lacks its id_token or state", 400)
        try:
            nonce, issuer, client_id = self.tokens.check(state, "lti").split("|", 2)
        except (TokenError, ValueError) as e:
            raise LaunchError(f"the launch's state is not ours or has expired ({e})") from None
        p = self._platform(issuer, client_id)
        try:
            key = self._jwks[p.jwks_url].get_signing_key_from_jwt(id_token).key
            claims = jwt.decode(id_token, key, algorithms=["RS256"], audience=p.client_id, issuer=p.issuer,
                                leeway=LEEWAY, options={"require": ["exp", "iat", "sub", "nonce", "aud", "iss"]})
        except jwt.PyJWKClientError as e:
            raise LaunchError(f"the platform's keys cannot be had or do not hold the token's key: {e}") from None
        except jwt.ExpiredSignatureError:
            raise LaunchError("the id_token has expired") from None
        except jwt.InvalidAudienceError:
            raise LaunchError("the id_token is not meant for this tool (wrong audience)") from None
        except jwt.InvalidIssuerError:
            raise LaunchError("the id_token comes from another issuer") from None
        except jwt.InvalidSignatureError:
            raise LaunchError("the id_token's signature does not verify") from None
        except jwt.InvalidTokenError as e:
            raise LaunchError(f"the id_token is not valid: {e}") from None
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != p.client_id:
            raise LaunchError("the id_token names several audiences but not this tool as azp")
        if claims["nonce"] != nonce:
            raise LaunchError("the id_token's nonce is not the one of this login")
        if p.deployment_ids and claims.get(LTI + "deployment_id") not in p.deployment_ids:
            raise LaunchError("the id_token's deployment is not registered with this tool")
        if claims.get(LTI + "message_type") != "LtiResourceLinkRequest" or claims.get(LTI + "version") != "1.3.0":
            raise LaunchError("only LTI 1.3.0 resource link launches are supported", 400)
        problem = (claims.get(LTI + "custom") or {}).get("problem")
        if problem is not None and self.catalogue is not None:       # an id or an alias: the id, as attempts have it
            try:
                problem = self.catalogue.get(str(problem)).id
            except DeriveError:
                raise LaunchError(f"the LMS asks for problem {str(problem)[:80]!r}, which this server does not "
                                  "offer; fix the link's custom parameter problem=", 400) from None
        self._use_nonce(nonce, claims["exp"])
        student = self._student(p, claims)
        ags = claims.get(AGS) or {}
        if problem and ags.get("lineitem") and SCORE_SCOPE in ags.get("scope", ()):
            self.store.execute("INSERT INTO lti_lineitems VALUES (?, ?, ?, ?, ?) ON CONFLICT (student, problem) "
                               "DO UPDATE SET issuer = excluded.issuer, lineitem = excluded.lineitem, "
                               "subject = excluded.subject", (student, problem, p.issuer, ags["lineitem"], claims["sub"]))
        return student, problem

    def _use_nonce(self, nonce: str, expires) -> None:
        self.store.execute("DELETE FROM lti_nonces WHERE expires < ?", (time.time() - 3600,))
        row = self.store.execute("INSERT INTO lti_nonces VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING nonce",
                                 (nonce, float(expires))).fetchone()
        if row is None:
            raise LaunchError("this launch was already used (a replayed nonce)")

    def _student(self, p: Platform, claims: dict) -> str:
        """The roster id of the LMS user (by the LIS person id or a `student_id` custom field), else
        the id they were enrolled under, else a new enrolment (when the configuration allows)."""
        row = self.store.execute("SELECT student FROM lti_users WHERE issuer = ? AND subject = ?",
                                 (p.issuer, claims["sub"])).fetchone()
        if row:
            return row[0]
        name = str(claims.get("name") or claims.get("given_name") or "")[:200]
        candidates = [(claims.get(LTI + "lis") or {}).get("person_sourcedid"),
                      (claims.get(LTI + "custom") or {}).get("student_id")]
        sid = next((str(c) for c in candidates if c and self.roster and self.roster.get(str(c))), None)
        if sid is None:
            if not self.enrol:
                raise LaunchError("this LMS user is not on the course's roster", 403)
            sid = "lti-" + hashlib.sha256(f"{p.issuer}\0{claims['sub']}".encode()).hexdigest()[:16]
        elif not name:
            name = self.roster.get(sid).name
        self.store.execute("INSERT INTO lti_users VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                           (p.issuer, claims["sub"], sid, name or sid))
        with self._lock:
            self._users[sid] = name or sid
        return sid

    # ---- scores back to the gradebook ------------------------------------------------------------
    def access_token(self, p: Platform) -> str:
        with self._lock:
            token, expiry = self._access.get(p.issuer + p.client_id, ("", 0.0))
        if token and expiry > time.time() + 30:
            return token
        now = int(time.time())
        assertion = jwt.encode({"iss": p.client_id, "sub": p.client_id, "aud": p.token_audience or p.auth_token_url,
                                "iat": now, "exp": now + 300, "jti": secrets.token_urlsafe(16)},
                               self.key, algorithm="RS256", headers={"kid": self.kid})
        body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": SCORE_SCOPE,
                                       "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                                       "client_assertion": assertion}).encode()
        req = urllib.request.Request(p.auth_token_url, body, {"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(req, timeout=10) as r:
            data = json.loads(r.read(1 << 20))
        with self._lock:
            self._access[p.issuer + p.client_id] = (data["access_token"], now + float(data.get("expires_in", 3600)))
        return data["access_token"]

    def pass_back(self, store, student: str, problem: str) -> bool:
        """Post the student's score on `problem` to its line item; False when there is none or it failed."""
        row = store.execute("SELECT issuer, lineitem, subject FROM lti_lineitems WHERE student = ? AND problem = ?",
                            (student, problem)).fetchone()
        if row is None or self.catalogue is None:
            return False
        issuer, lineitem, subject = row
        graded = [q.name for q in self.catalogue.get(problem).quantities if q.graded]
        best = store.best_scores(student, problem)
        got = sum(best.get(q, 0.0) for q in graded)
        score = {"userId": subject, "scoreGiven": got, "scoreMaximum": float(len(graded)),
                 "activityProgress": "Completed" if got >= len(graded) else "InProgress",
                 "gradingProgress": "FullyGraded",
                 "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")}
        base, _, query = lineitem.partition("?")
        url = base.rstrip("/") + "/scores" + ("?" + query if query else "")
        try:
            p = next(p for p in self.platforms.values() if p.issuer == issuer)
            req = urllib.request.Request(url, json.dumps(score).encode(), method="POST", headers={
                "Content-Type": "application/vnd.ims.lis.v1.score+json",
                "Authorization": f"Bearer {self.access_token(p)}"})
            with urllib.request.urlopen(req, timeout=10) as r:
                r.read(1 << 16)
            return True
        except (OSError, ValueError, KeyError, StopIteration) as e:
            log.warning("score passback for %s on %s failed: %s", student, problem, e)
            return False

    # ---- the routes ---------------------------------------------------------------------------------
    def routes(self, course, catalogue, in_thread) -> list:
        self.catalogue = catalogue

        def refuse(e: LaunchError):
            return JSONResponse({"error": str(e)}, e.status, headers={"cache-control": "no-store"})

        async def login(request):
            params = dict(request.query_params)
            try:
                if request.method == "POST":
                    params.update(await _form(request))
                return RedirectResponse(self.login(params, str(request.base_url)), 302)
            except LaunchError as e:
                return refuse(e)

        async def launch(request):
            try:
                student, problem = await in_thread(self.launch, await _form(request))
            except LaunchError as e:
                return refuse(e)
            target = link(self.url or str(request.base_url), self.tokens.make(student, "student", days=1))
            return RedirectResponse(target + (f"#{urllib.parse.quote(problem)}" if problem else ""), 303)

        async def jwks(request):
            return JSONResponse({"keys": [self.jwk]})

        return [Route("/lti/login", login, methods=["GET", "POST"]), Route("/lti/launch", launch, methods=["POST"]),
                Route("/lti/jwks", jwks)]


async def _form(request) -> dict:
    """An application/x-www-form-urlencoded body (at most MAX_FORM bytes) as a dict of its first values."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise LaunchError(f"the form is larger than {MAX_FORM} bytes", 413)
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise LaunchError("the form is not URL-encoded UTF-8 text", 400) from None
    out: dict = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out
