"""The course server: the same page and API, but each request is a known student's.

`derive serve --roster CSV --salt S` (or `--lti CONFIG`) turns it on. Then:

    GET  /api/me                  {"id", "name"} of the token's student
    GET  /api/problems/{id}       the student's own variant (seed_for(id, salt), as on the roster sheets)
    POST /api/check               checked against that variant; stored before the verdict is returned
    POST /api/preview             as before, for a student only
    GET  /instructor              the class dashboard (its own token), /api/instructor/summary its data
    /lti/login, /lti/launch, /lti/jwks   LTI 1.3 (lti.py), when configured

Every /api/ call but the catalogue listing needs `Authorization: Bearer TOKEN`; a missing, forged,
altered or expired token is 401 with a JSON message. The rate limit counts per student.
"""
from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass

from starlette.background import BackgroundTask
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from derive.batch.run import meaning_key
from derive.variants import Student, seed_for
from derive.serve import dashboard
from derive.serve.app import STATIC, ApiError, _json, read_answer
from derive.serve.attempts import Attempt, Store
from derive.serve.students import Roster, TokenError, Tokens, bearer

log = logging.getLogger("derive.serve.course")
KEY_RE = re.compile(r"[A-Za-z0-9_.:-]{1,100}\Z")        # an Idempotency-Key
SURROGATE = re.compile("[\ud800-\udfff]")


async def read_text(request) -> dict:
    """read_answer, and no lone surrogate (JSON allows "\\ud800"; no database or UTF-8 page does)."""
    d = await read_answer(request)
    for key, value in d.items():
        if SURROGATE.search(value):
            raise ApiError(422, f"the field {key!r} holds a lone surrogate (not valid Unicode text)")
    return d


@dataclass
class Course:
    tokens: Tokens
    store: Store
    roster: Roster | None = None
    salt: str = ""
    lti: object = None                 # lti.Tool when LTI is configured
    instructor_token: str = ""         # --instructor-token (else only signed instructor tokens)

    # ---- who is asking ---------------------------------------------------------------------------
    def student_of(self, token: str | None) -> Student:
        sid = self.tokens.check(token, "student")
        s = self.roster.get(sid) if self.roster else None
        if s is not None:
            return s
        if self.lti is not None and self.lti.enrolled(sid):
            return Student(sid, self.lti.name_of(sid), seed_for(sid, self.salt))
        raise TokenError(f"student {sid[:60]!r} is not on this course's roster")

    def student(self, request) -> Student:
        try:
            return self.student_of(bearer(request.headers))
        except TokenError as e:
            raise ApiError(401, str(e)) from None

    def instructor(self, request) -> None:
        given = bearer(request.headers)
        if self.instructor_token and given and hmac.compare_digest(given.encode(), self.instructor_token.encode()):
            return
        try:
            self.tokens.check(given, "instructor")
        except TokenError as e:
            raise ApiError(401, str(e)) from None

    def client(self, scope) -> str | None:
        """The rate limiter's key: the student's id when the request carries a valid token."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())
                   if k == b"authorization"}
        try:
            return "student:" + self.tokens.check(bearer(headers), "student")
        except TokenError:
            return None

    # ---- the routes ----------------------------------------------------------------------------
    def routes(self, catalogue, state: dict, in_thread) -> list:
        """The routes that replace (they come first) or add to the open page's."""
        store = self.store

        async def me(request):
            s = self.student(request)
            return _json({"id": s.id, "name": s.name, "lti": self.lti is not None and self.lti.enrolled(s.id)})

        async def problem(request):
            s = self.student(request)
            return _json(await in_thread(catalogue.detail, request.path_params["name"], s.seed))

        async def preview(request):
            self.student(request)
            d = await read_text(request)
            return _json(catalogue.preview(d["problem"], d["quantity"], d["answer"], d["format"]))

        async def check(request):
            s = self.student(request)
            key = request.headers.get("idempotency-key")
            if key is not None and not KEY_RE.match(key):
                raise ApiError(400, "the Idempotency-Key header must be 1-100 letters, digits or _.:-")
            d = await read_text(request)
            res = await in_thread(catalogue.check, state["checker"], d["problem"], d["quantity"], d["answer"],
                                  d["format"], s.seed)
            p = catalogue.get(d["problem"])
            attempt = Attempt(s.id, res.problem, s.seed if p.variants is not None else None, res.quantity,
                              d["answer"], res.verdict, res.score, d["format"], res.interpreted,
                              ",".join(res.diagnosis), meaning_key(res) if res.verdict not in ("correct", "invalid")
                              else "", key)
            try:
                stored = await in_thread(store.add, attempt)    # committed before the verdict goes out
            except Exception:                                   # the driver's errors: the database is away
                log.exception("storing an attempt of %s failed", s.id)
                raise ApiError(503, "the answer was checked but could not be recorded (the attempts database "
                                    "is unavailable); try again in a moment") from None
            if (stored.problem, stored.quantity, stored.answer) != (attempt.problem, attempt.quantity, attempt.answer):
                raise ApiError(422, "this Idempotency-Key was already used for another answer; send a new key")
            task = None
            if self.lti is not None:          # after the response; nothing to do without a launch's line item
                task = BackgroundTask(in_thread, self.lti.pass_back, store, s.id, res.problem)
            return JSONResponse({**res.to_dict(), "attempt": stored.id}, headers={"cache-control": "no-store"},
                                background=task)

        async def instructor_page(request):
            return FileResponse(STATIC / "instructor.html", headers={"cache-control": "no-cache"})

        async def summary(request):
            self.instructor(request)
            return _json(await in_thread(dashboard.summary, store, catalogue))

        out = [Route("/api/me", me), Route("/api/problems/{name}", problem),
               Route("/api/check", check, methods=["POST"]), Route("/api/preview", preview, methods=["POST"]),
               Route("/instructor", instructor_page), Route("/api/instructor/summary", summary)]
        if self.lti is not None:
            out += self.lti.routes(self, catalogue, in_thread)
        return out

    def frame_ancestors(self) -> tuple:
        """The LMS origins that may show the page in a frame (lti.json's tool.frame_ancestors)."""
        return self.lti.frame_ancestors if self.lti is not None else ()

    def close(self) -> None:
        self.store.close()
