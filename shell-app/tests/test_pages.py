import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from festflow_contracts.tokens import generate_keypair
from shell_app.main import create_app
from shell_app.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client():
    _, public = generate_keypair()
    # nothing listens on the order API's address: login reports "unavailable"
    app = create_app(Settings(jwt_public_key=public, order_api_url="http://127.0.0.1:9",
                              kafka_bootstrap_servers="127.0.0.1:9"))
    with TestClient(app) as c:
        yield c


INCLUDE = re.compile(r'<!--# include virtual="([^"]+)"(?: stub="([^"]+)")? -->')


@pytest.mark.parametrize("path", ["/", "/my-orders"])
def test_every_include_has_a_stub_defined_before_it(client, path):
    html = client.get(path).text
    includes = INCLUDE.findall(html)
    assert includes
    for virtual, stub in includes:
        if virtual.endswith("/nav"):
            continue  # the nav entry may be empty: no stub needed
        assert stub, virtual
        assert html.index(f'<!--# block name="{stub}" -->') < html.index(f'include virtual="{virtual}"')


def test_every_included_fragment_is_listed_by_its_provider():
    from shell_app.main import NAV_FRAGMENT, PAGES
    paths = [p for fragments in PAGES.values() for p, _ in fragments] + [NAV_FRAGMENT[0]]
    providers = {"catalog": "mf-catalog", "cart": "mf-cart", "admin": "mf-admin", "gate": "mf-gate"}
    for path in paths:
        provider = providers[path.split("/")[1]]
        assert f"`{path}`" in (REPO_ROOT / provider / "CONTRACT.md").read_text(), path


def test_dashboard_sends_anonymous_visitors_to_login(client):
    resp = client.get("/dashboard", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/login?next=/dashboard"


def test_login_rejects_open_redirects_and_reports_missing_fields(client):
    resp = client.post("/shell/login", data={"username": "", "password": "", "next": "//evil.example"},
                       follow_redirects=False)
    assert resp.headers["location"] == "/login?error=missing&next=%2F&username="


def test_login_when_the_api_is_down_says_so(client):
    resp = client.post("/shell/login", data={"username": "guest", "password": "x"}, follow_redirects=False)
    assert resp.headers["location"].startswith("/login?error=unavailable")
    page = client.get(resp.headers["location"]).text
    assert "Login is unavailable right now" in page
    assert 'value="guest"' in page  # what was typed stays


def test_htmx_is_served_as_a_static_file(client):
    resp = client.get("/shell/static/vendor/htmx-2.0.11/htmx.min.js")
    assert resp.status_code == 200 and "htmx" in resp.text[:200]


def test_the_account_page_sends_anonymous_visitors_to_login_and_shows_a_buyer_their_account():
    import time

    from jose import jwt

    from festflow_contracts.tokens import AUDIENCE, ISSUER
    private, public = generate_keypair()
    app = create_app(Settings(jwt_public_key=public, order_api_url="http://127.0.0.1:9",
                              kafka_bootstrap_servers="127.0.0.1:9"))
    now = int(time.time())
    token = jwt.encode({"sub": "anna", "role": "client", "email": "anna@example.org", "iss": ISSUER,
                        "aud": AUDIENCE, "iat": now, "exp": now + 60, "jti": "j"}, private, algorithm="RS256")
    with TestClient(app) as c:
        resp = c.get("/account", follow_redirects=False)
        assert resp.status_code == 303 and resp.headers["location"] == "/login?next=%2Faccount"
        c.cookies.set("festflow_token", token)
        page = c.get("/account").text
        assert "anna@example.org" in page and 'action="/shell/logout-everywhere"' in page
        assert '<a href="/account">Account</a>' in page
        # the order API is away: the page says so and the buyer stays logged in
        failed = c.post("/shell/logout-everywhere", follow_redirects=False)
        assert failed.status_code == 503 and "unavailable right now" in failed.text
