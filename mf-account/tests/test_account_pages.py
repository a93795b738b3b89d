"""mf-account at unit level: each account page, its form's refusals beside their fields, the visitor's
address passed on, with the order API faked (or away)."""
import json
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from jose import jwt

from festflow_contracts.tokens import AUDIENCE, ISSUER, generate_keypair
from festflow_runtime.fragment_app import OfflineEvents
from mf_account.main import create_app
from mf_account.settings import Settings

KEYS = generate_keypair()


def token(username="anna"):
    now = int(time.time())
    return jwt.encode({"sub": username, "role": "client", "email": f"{username}@example.org", "iss": ISSUER,
                       "aud": AUDIENCE, "iat": now, "exp": now + 60, "jti": "j"}, KEYS[0], algorithm="RS256")


class FakeAuthApi:
    """The order API's /api/auth/* as far as these pages go: it records each call and answers from `answers`."""

    def __init__(self):
        self.calls: list[tuple[str, dict, str | None]] = []
        self.answers: dict[str, httpx.Response] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.url.path, json.loads(request.content or b"{}"), request.headers.get("x-real-ip")))
        return self.answers.get(request.url.path, httpx.Response(404, json={"detail": "not here"}))


@pytest.fixture
def api():
    return FakeAuthApi()


@pytest.fixture
def client(api):
    app = create_app(Settings(jwt_public_key=KEYS[1]), order_api_transport=httpx.MockTransport(api),
                     subscribe=OfflineEvents())
    with TestClient(app, client=("127.0.0.1", 50000)) as c:  # as the gateway (a trusted proxy) asks
        yield c


def test_the_account_page_sends_anonymous_visitors_to_login_and_shows_a_buyer_their_account(client):
    resp = client.get("/account/", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/login?next=%2Faccount%2F"
    client.cookies.set("festflow_token", token())
    page = client.get("/account/").text
    assert "anna@example.org" in page and 'action="/account/logout-everywhere"' in page
    assert '<!--# include virtual="/shell/fragments/v1/header" stub="no_header" -->' in page


def test_logging_out_everywhere_with_the_api_away_says_so_and_keeps_the_session():
    app = create_app(Settings(jwt_public_key=KEYS[1], order_api_url="http://127.0.0.1:9"), subscribe=OfflineEvents())
    with TestClient(app) as c:
        c.cookies.set("festflow_token", token())
        failed = c.post("/account/logout-everywhere", follow_redirects=False)
    assert failed.status_code == 503 and "unavailable right now" in failed.text
    assert "festflow_token" not in failed.headers.get("set-cookie", "")


def test_logging_out_everywhere_ends_the_session_here_too(client, api):
    api.answers["/api/auth/logout-everywhere"] = httpx.Response(200, json={"sessions_ended": True})
    client.cookies.set("festflow_token", token())
    resp = client.post("/account/logout-everywhere", follow_redirects=False)
    assert resp.headers["location"] == "/login?notice=logged-out-all"
    assert 'festflow_token=""' in resp.headers["set-cookie"]


def test_a_sign_up_refusal_is_shown_beside_its_field_and_keeps_what_was_typed(client, api):
    api.answers["/api/auth/register"] = httpx.Response(422, json={"detail": [
        {"loc": ["body", "email"], "msg": "value is not a valid email address: one mailbox, without a name"}]})
    resp = client.post("/account/signup", data={"username": "anna", "email": "Anna <a@x.org>", "password": "p"},
                       headers={"X-Real-IP": "203.0.113.9"})
    assert resp.status_code == 422
    assert 'id="e-email"' in resp.text and "Value is not a valid email address" in resp.text
    assert 'value="anna"' in resp.text
    assert api.calls == [("/api/auth/register", {"username": "anna", "email": "Anna <a@x.org>", "password": "p"},
                          "203.0.113.9")]


def test_a_sign_up_logs_the_new_buyer_in_at_once(client, api):
    api.answers["/api/auth/register"] = httpx.Response(201, json={"username": "anna", "email": "anna@example.org"})
    api.answers["/api/auth/login"] = httpx.Response(200, json={"access_token": token(), "expires_in": 60})
    resp = client.post("/account/signup", data={"username": "anna", "email": "anna@example.org",
                                                "password": "long enough phrase"}, follow_redirects=False)
    assert resp.headers["location"] == "/account/signup?done=anna%40example.org"
    assert "festflow_token=" in resp.headers["set-cookie"]


def test_a_confirmation_link_confirms_once_and_a_bad_one_says_why(client, api):
    api.answers["/api/auth/verify-email"] = httpx.Response(200, json={"username": "anna", "email_verified": True})
    assert "Address confirmed" in client.get("/account/verify-email?token=t1").text
    api.answers["/api/auth/verify-email"] = httpx.Response(400, json={"detail": "this link was used already"})
    bad = client.get("/account/verify-email?token=t1")
    assert bad.status_code == 400 and "This link was used already." in bad.text
    assert client.get("/account/verify-email").status_code == 400


def test_a_forgotten_password_gets_the_same_answer_and_a_new_one_sends_to_login(client, api):
    assert client.post("/account/forgot-password", data={"email": "nope"}).status_code == 422
    api.answers["/api/auth/password-reset"] = httpx.Response(
        202, json={"detail": "If it has an account, a link is on its way."})
    assert "a link is on its way" in client.post("/account/forgot-password", data={"email": "a@x.org"}).text
    api.answers["/api/auth/password-reset/confirm"] = httpx.Response(200, json={"username": "anna"})
    done = client.post("/account/reset-password", data={"token": "t", "password": "a new long phrase"},
                       follow_redirects=False)
    assert done.headers["location"] == "/login?notice=password-set&username=anna"
    api.answers["/api/auth/password-reset/confirm"] = httpx.Response(422, json={"detail": [
        {"loc": ["body", "password"], "msg": "Value error, password: use at least 10 characters"}]})
    weak = client.post("/account/reset-password", data={"token": "t", "password": "short"})
    assert weak.status_code == 422 and 'id="e-password"' in weak.text and "Use at least 10 characters." in weak.text


def test_the_login_link_asks_for_a_click_and_logs_in_once(client, api):
    page = client.get("/account/login-link?token=abc").text
    assert 'action="/account/login-link"' in page and 'value="abc"' in page
    api.answers["/api/auth/login-link"] = httpx.Response(200, json={"access_token": token(), "expires_in": 60})
    resp = client.post("/account/login-link", data={"token": "abc"}, follow_redirects=False)
    assert resp.headers["location"] == "/" and "festflow_token=" in resp.headers["set-cookie"]
    api.answers["/api/auth/login-link"] = httpx.Response(400, json={"detail": "this link was used already"})
    again = client.post("/account/login-link", data={"token": "abc"})
    assert again.status_code == 400 and "This link was used already." in again.text
