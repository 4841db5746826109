"""LTI 1.3 against a simulated platform: it signs real RS256 id_tokens with its own key, serves its
JWKS, a token endpoint that checks our signed client assertion against our JWKS, and an AGS line
item that records the scores it is sent."""
import contextlib
import functools
import json
import threading
import time
import urllib.parse
import urllib.request

import jwt
import pytest
from course_helpers import make_course
from cryptography.hazmat.primitives.asymmetric import rsa
from serving import listen, request, running, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from derive.errors import DeriveError
from derive.serve.lti import AGS, LTI, SCORE_SCOPE, Platform, Tool

ISS, CID, DEPLOYMENT = "https://lms.example.edu", "derive-client-1", "deploy-1"
RIGHT = "dL/dh3*f3'(b3 + h1*w3 + h2*w4)"


@functools.lru_cache(maxsize=None)
def rsa_key(which: str):
    """One RSA key per role, made once per run (the platform's, the tool's, an impostor's)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@contextlib.contextmanager
def serve(app):
    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


class Platform_:
    """The simulated LMS."""

    def __init__(self):
        self.key = rsa_key("platform")
        self.kid = "platform-key-1"
        self.scores, self.token_requests, self.tool_jwks = [], [], None
        self.access = "access-" + str(id(self))
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.jwks = {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

        async def keys(request):
            return JSONResponse(self.jwks)

        async def token(request):
            form = dict(urllib.parse.parse_qsl((await request.body()).decode()))
            with urllib.request.urlopen(self.tool_jwks) as r:          # the tool's public key, over HTTP
                tool_keys = jwt.PyJWKSet.from_dict(json.loads(r.read()))
            kid = jwt.get_unverified_header(form["client_assertion"])["kid"]
            key = next(k for k in tool_keys.keys if k.key_id == kid)
            claims = jwt.decode(form["client_assertion"], key.key, algorithms=["RS256"], audience=self.url + "/token")
            assert claims["iss"] == claims["sub"] == CID and form["grant_type"] == "client_credentials"
            self.token_requests.append(form["scope"])
            return JSONResponse({"access_token": self.access, "token_type": "Bearer", "expires_in": 3600})

        async def scores(request):
            assert request.headers["authorization"] == f"Bearer {self.access}"
            assert request.headers["content-type"] == "application/vnd.ims.lis.v1.score+json"
            self.scores.append(json.loads(await request.body()))
            return JSONResponse({}, 200)

        self.app = Starlette(routes=[Route("/jwks", keys), Route("/token", token, methods=["POST"]),
                                     Route("/lineitems/7/scores", scores, methods=["POST"])])

    def id_token(self, nonce, key=None, **over):
        now = int(time.time())
        claims = {"iss": ISS, "aud": CID, "sub": "lms-user-1", "iat": now, "exp": now + 300, "nonce": nonce,
                  "name": "Ada from the LMS",
                  LTI + "message_type": "LtiResourceLinkRequest", LTI + "version": "1.3.0",
                  LTI + "deployment_id": DEPLOYMENT, LTI + "custom": {"problem": "problem1"},      # an alias
                  LTI + "lis": {"person_sourcedid": "s1"},
                  AGS: {"lineitem": self.url + "/lineitems/7", "scope": [SCORE_SCOPE]}}
        claims.update(over)
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture(scope="module")
def lms(module_db_url, roster_file, course_settings):
    platform = Platform_()
    with serve(platform.app) as purl:
        platform.url = purl
        tool = Tool([Platform(ISS, CID, purl + "/auth", purl + "/token", purl + "/jwks", (DEPLOYMENT,))],
                    rsa_key("tool"))
        course = make_course(module_db_url, roster_file, lti=tool)
        tool.roster = course.roster
        tool.attach(course.store, course.tokens)
        with running(course_settings(course)) as (url, app):
            platform.tool_jwks = url + "/lti/jwks"
            yield url, platform, course


def login(url):
    q = urllib.parse.urlencode({"iss": ISS, "login_hint": "u1", "client_id": CID, "target_link_uri": url + "/lti/launch"})
    status, headers, _ = request(url, "GET", f"/lti/login?{q}")
    assert status == 302
    target = urllib.parse.urlsplit(headers["location"])
    params = dict(urllib.parse.parse_qsl(target.query))
    assert (params["redirect_uri"], params["response_mode"], params["scope"]) == (url + "/lti/launch", "form_post", "openid")
    return params["state"], params["nonce"]


def launch(url, id_token, state):
    body = urllib.parse.urlencode({"id_token": id_token, "state": state}).encode()
    return request(url, "POST", "/lti/launch", raw=body, headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_a_good_launch_opens_the_students_page_and_the_score_goes_back(lms):
    url, platform, course = lms
    platform.scores.clear()
    platform.token_requests.clear()
    state, nonce = login(url)
    status, headers, _ = launch(url, platform.id_token(nonce), state)
    assert status == 303
    target = urllib.parse.urlsplit(headers["location"])
    assert target.fragment == "scalar-chain"
    token = dict(urllib.parse.parse_qsl(target.query))["token"]
    assert course.tokens.check(token) == "s1"                    # mapped to the roster by the LIS person id
    auth = {"Authorization": f"Bearer {token}"}
    r = request(url, "POST", "/api/check", {"problem": "scalar-chain", "quantity": "dL/db3", "answer": RIGHT},
                headers=auth)[2]
    assert r["verdict"] == "correct"
    deadline = time.monotonic() + 10
    while not platform.scores and time.monotonic() < deadline:
        time.sleep(0.05)
    [score] = platform.scores
    graded = sum(q["graded"] for q in request(url, "GET", "/api/problems/scalar-chain", headers=auth)[2]["quantities"])
    assert (score["userId"], score["scoreGiven"], score["scoreMaximum"]) == ("lms-user-1", 1.0, float(graded))
    assert score["gradingProgress"] == "FullyGraded" and platform.token_requests == [SCORE_SCOPE]


def test_a_new_lms_user_is_enrolled_on_first_launch(lms):
    url, platform, course = lms
    state, nonce = login(url)
    status, headers, _ = launch(url, platform.id_token(nonce, sub="lms-9", name="<b>Eve</b>",
                                                       **{LTI + "lis": {}}), state)
    assert status == 303
    token = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["location"]).query))["token"]
    me = request(url, "GET", "/api/me", headers={"Authorization": f"Bearer {token}"})[2]
    assert me["id"].startswith("lti-") and me["name"] == "<b>Eve</b>" and me["lti"] is True
    other = Tool(list(course.lti.platforms.values()), rsa_key("tool"))     # another process, same database
    other.attach(course.store, course.tokens)
    assert other.enrolled(me["id"]) and other.name_of(me["id"]) == "<b>Eve</b>" and not other.enrolled("lti-nobody")


@pytest.mark.parametrize("case, message", [
    ("wrong audience", "wrong audience"),
    ("expired", "expired"),
    ("tampered", "signature"),
    ("another key", "signature"),
    ("other nonce", "nonce"),
    ("other deployment", "deployment"),
])
def test_a_bad_id_token_is_refused(lms, case, message):
    url, platform, course = lms
    state, nonce = login(url)
    other = rsa_key("impostor")
    token = {"wrong audience": lambda: platform.id_token(nonce, aud="someone-else"),
             "expired": lambda: platform.id_token(nonce, exp=int(time.time()) - 120, iat=int(time.time()) - 500),
             "another key": lambda: platform.id_token(nonce, key=other),
             "other nonce": lambda: platform.id_token("not-the-nonce"),
             "other deployment": lambda: platform.id_token(nonce, **{LTI + "deployment_id": "x"}),
             "tampered": lambda: _tamper(platform.id_token(nonce))}[case]()
    status, headers, data = launch(url, token, state)
    assert status == 401 and message in data["error"], data
    assert headers["content-type"].startswith("application/json")


def _tamper(token):
    head, body, sig = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(body))
    claims["sub"] = "someone-else"
    return ".".join([head, jwt.utils.base64url_encode(json.dumps(claims).encode()).decode(), sig])


def test_a_launch_for_a_problem_the_server_lacks_is_refused(lms):
    url, platform, course = lms
    state, nonce = login(url)
    status, _, data = launch(url, platform.id_token(nonce, **{LTI + "custom": {"problem": "<nope>"}}), state)
    assert status == 400 and "'<nope>'" in data["error"]


def test_a_replayed_launch_is_refused(lms):
    url, platform, course = lms
    state, nonce = login(url)
    token = platform.id_token(nonce)
    assert launch(url, token, state)[0] == 303
    status, _, data = launch(url, token, state)
    assert status == 401 and "replayed" in data["error"]


@pytest.mark.parametrize("query, body, status", [
    ({"iss": "https://unknown.example", "login_hint": "x"}, None, 400),
    ({"iss": ISS}, None, 400),
])
def test_bad_logins_and_junk_launches(lms, query, body, status):
    url, platform, course = lms
    got, _, data = request(url, "GET", "/lti/login?" + urllib.parse.urlencode(query))
    assert got == status and "error" in data
    for raw in (b"", b"id_token=x&state=y", b"\xff\xfe", b"id_token=" + b"a" * 70000):
        got, _, data = request(url, "POST", "/lti/launch", raw=raw,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert got in (400, 401, 413) and "error" in data


def test_the_tool_serves_its_public_key(lms):
    url, platform, course = lms
    keys = request(url, "GET", "/lti/jwks")[2]["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and "d" not in keys[0]


def test_the_lms_may_frame_the_page_and_nobody_else(tmp_path, roster_file, course_settings):
    platform = Platform(ISS, CID, "https://lms/auth", "https://lms/token", "https://lms/jwks")
    tool = Tool([platform], rsa_key("tool"), frame_ancestors=("https://lms.example.edu", "https://*.instructure.com"))
    course = make_course(str(tmp_path / "f.sqlite"), roster_file, lti=tool)
    tool.attach(course.store, course.tokens)
    with running(course_settings(course)) as (url, app):
        for path in ("/", "/api/problems", "/lti/jwks"):
            _, headers, _ = request(url, "GET", path)
            assert "frame-ancestors https://lms.example.edu https://*.instructure.com" in headers["content-security-policy"]
            assert "x-frame-options" not in headers and "script-src 'self'" in headers["content-security-policy"]
    for bad in ("https://x; script-src *", "http://plain.example", "https://a b", "*"):
        with pytest.raises(DeriveError, match="not an origin"):
            Tool([platform], rsa_key("tool"), frame_ancestors=(bad,))


def test_without_an_lms_no_frame_may_hold_the_page(tmp_path, roster_file, course_settings):
    course = make_course(str(tmp_path / "g.sqlite"), roster_file)
    with running(course_settings(course)) as (url, app):
        _, headers, _ = request(url, "GET", "/")
        assert "frame-ancestors 'none'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"
