"""The shell at unit level: the frame's fragments, logging in and out (the order API faked or away)."""
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from jose import jwt

from festflow_contracts.tokens import AUDIENCE, ISSUER, generate_keypair
from festflow_runtime.fragment_app import OfflineEvents
from shell_app.main import create_app
from shell_app.settings import Settings

KEYS = generate_keypair()


def token(role="client", username="anna"):
    now = int(time.time())
    return jwt.encode({"sub": username, "role": role, "email": f"{username}@example.org", "iss": ISSUER,
                       "aud": AUDIENCE, "iat": now, "exp": now + 60, "jti": "j"}, KEYS[0], algorithm="RS256")


@pytest.fixture
def client():
    # nothing listens on the order API's address: login reports "unavailable"
    app = create_app(Settings(jwt_public_key=KEYS[1], order_api_url="http://127.0.0.1:9"), subscribe=OfflineEvents())
    with TestClient(app) as c:
        yield c


def test_the_header_shows_who_is_logged_in_with_the_bell_and_the_organisers_entry(client):
    anonymous = client.get("/shell/fragments/v1/header").text
    assert 'href="/login"' in anonymous and 'href="/account/signup"' in anonymous and "shell-bell" not in anonymous
    client.cookies.set("festflow_token", token())
    mine = client.get("/shell/fragments/v1/header").text
    assert 'id="shell-bell"' in mine and ">anna<" in mine and 'href="/cart/my-orders"' in mine
    assert 'href="/account/"' in mine and 'action="/shell/logout"' in mine
    assert '<!--# include virtual="/admin/fragments/v1/nav" -->' in mine


def test_the_head_brings_every_apps_styles_and_scripts_and_htmx(client):
    head = client.get("/shell/fragments/v1/head").text
    for app in ("shell", "catalog", "cart", "admin", "account"):
        assert f'href="/{app}/static/{app}.css"' in head
    assert 'src="/shell/static/vendor/htmx-2.0.11/htmx.min.js"' in head and 'src="/shell/static/bell.js"' in head


def test_the_login_page_is_in_the_frame_and_rejects_open_redirects(client):
    page = client.get("/login?next=//evil.example").text
    assert '<!--# include virtual="/shell/fragments/v1/header" stub="no_header" -->' in page
    assert 'name="next" value="/"' in page and 'href="/account/forgot-password"' in page
    resp = client.post("/shell/login", data={"username": "", "password": "", "next": "//evil.example"},
                       follow_redirects=False)
    assert resp.headers["location"] == "/login?error=missing&next=%2F&username="


def test_login_when_the_api_is_down_says_so(client):
    resp = client.post("/shell/login", data={"username": "guest", "password": "x"}, follow_redirects=False)
    assert resp.headers["location"].startswith("/login?error=unavailable")
    page = client.get(resp.headers["location"]).text
    assert "Login is unavailable right now" in page
    assert 'value="guest"' in page  # what was typed stays


def test_a_login_passes_the_visitors_address_on_and_sets_the_session_cookie():
    seen = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-real-ip"))
        return httpx.Response(200, json={"access_token": token(), "expires_in": 60})
    app = create_app(Settings(jwt_public_key=KEYS[1]), order_api_transport=httpx.MockTransport(api),
                     subscribe=OfflineEvents())
    with TestClient(app, client=("127.0.0.1", 50000)) as c:  # the gateway (trusted) asking for a visitor
        resp = c.post("/shell/login", data={"username": "anna", "password": "pw", "next": "/cart/my-orders"},
                      headers={"X-Real-IP": "203.0.113.9"}, follow_redirects=False)
    assert seen == ["203.0.113.9"]
    assert resp.status_code == 303 and resp.headers["location"] == "/cart/my-orders"
    assert "festflow_token=" in resp.headers["set-cookie"] and "HttpOnly" in resp.headers["set-cookie"]


def test_nothing_here_is_a_page_not_found_in_the_frame(client):
    resp = client.get("/shell/not-found")
    assert resp.status_code == 404 and "Page not found" in resp.text
    assert '<!--# include virtual="/shell/fragments/v1/footer" -->' in resp.text


def test_htmx_is_served_as_a_static_file(client):
    resp = client.get("/shell/static/vendor/htmx-2.0.11/htmx.min.js")
    assert resp.status_code == 200 and "htmx" in resp.text[:200]
