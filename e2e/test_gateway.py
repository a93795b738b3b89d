"""Nginx on the gateway port composes the page, routes the API, hides the internals, proxies WS and SSE."""
import asyncio
import json
import re

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from e2e_helpers import open_socket, run_async

pytestmark = pytest.mark.stack


def test_home_page_composes_a_fragment_from_every_micro_frontend(api):
    resp = api.get("/")
    assert resp.status_code == 200
    html = resp.text
    for fragment in ("mf-catalog:ticket-list", "mf-cart:cart", "mf-admin:nav"):
        assert f'data-fragment="{fragment}"' in html, fragment
    assert "<!--#" not in html  # every SSI directive was resolved by Nginx
    assert "General Admission" in html


def test_api_is_routed_to_the_order_service(api):
    tickets = api.get("/api/tickets").json()
    assert {"id", "name", "price", "stock"} <= set(tickets[0])


@pytest.mark.parametrize("path", ["/healthz", "/internal/tickets", "/docs", "/openapi.json",
                                  "/api/../internal/tickets", "/mailbox/"])
def test_internal_paths_are_not_exposed(api, path):
    resp = api.get(path)
    # no app behind the gateway answers these: the visitor gets the site's "page not found"
    assert resp.status_code == 404 and resp.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in resp.text and "<!--#" not in resp.text  # composed, with its frame
    assert '"status"' not in resp.text and "ok" != resp.text.strip()


def test_admin_nav_shows_only_for_admins(api, admin_token, guest_token):
    link = "ADMIN DASHBOARD"
    assert link not in api.get("/", headers={"Cookie": f"festflow_token={guest_token}"}).text
    assert link in api.get("/", headers={"Cookie": f"festflow_token={admin_token}"}).text


def test_a_micro_frontend_that_is_down_yields_its_stub_and_the_page_lives(api, stack):
    stack.supervisor.stop_one("mf-cart")
    try:
        resp = api.get("/")
        assert resp.status_code == 200
        assert "The cart is unavailable right now." in resp.text
        assert 'data-fragment="mf-catalog:ticket-list"' in resp.text
    finally:
        stack.supervisor.restart("mf-cart")
    assert 'data-fragment="mf-cart:cart"' in api.get("/").text


def test_websocket_is_proxied_and_authenticated(gateway, guest_token):
    async def run():
        async with open_socket(gateway, "/ws/notifications", guest_token) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert hello == {"kind": "hello", "username": "guest"}
        with pytest.raises(ConnectionClosed) as closed:
            async with open_socket(gateway, f"/ws/notifications?token={guest_token}") as ws:  # not in the URL
                await asyncio.wait_for(ws.recv(), 5)
        return closed.value

    closed = run_async(run())
    assert closed.rcvd.code == 4401


def test_sse_is_proxied_unbuffered(gateway):
    # the first event must arrive at once: a buffering proxy would hold it back
    with httpx.Client(timeout=5) as client, client.stream("GET", f"{gateway}/catalog/sse/stock") as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("event:"):
                assert line.strip() == "event: ready"
                break


def test_api_is_rate_limited(gateway):
    with httpx.Client(base_url=gateway, timeout=10) as client:
        codes = [client.post("/api/auth/login", json={"username": "x", "password": "y"}).status_code
                 for _ in range(60)]
    assert 429 in codes and 401 in codes


@pytest.mark.parametrize("form,fields,source", [
    ("/shell/login", {"username": "nobody-x", "password": "wrong password"}, "127.0.0.71"),
    ("/account/signup", {"username": "a", "email": "not-an-address", "password": "short"}, "127.0.0.72"),
    ("/account/forgot-password", {"email": "nobody@festflow.test"}, "127.0.0.73"),
])
def test_the_account_forms_are_rate_limited_like_the_api(gateway, form, fields, source):
    """60 posts at once from one address (one of its own, so that no other test's logins are slowed): the
    gateway's per-address limit turns the rest away with 429 and a page that says why. All 60 are sent at
    once (a thread each): sent 20 at a time, a slow machine answers them over more than the limit's window."""
    from concurrent.futures import ThreadPoolExecutor
    transport = httpx.HTTPTransport(local_address=source, limits=httpx.Limits(max_connections=60))
    with httpx.Client(base_url=gateway, timeout=20, transport=transport) as client:
        with ThreadPoolExecutor(60) as pool:
            answers = list(pool.map(lambda _: client.post(form, data=fields), range(60)))
    codes = {a.status_code for a in answers}
    assert 429 in codes and codes - {429}, codes
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["content-type"].startswith("text/html") and "Too many attempts" in refused.text
    assert refused.headers["retry-after"] == "1"


def test_every_service_reports_healthy_dependencies(profile):
    for port_name in ("order", "inventory", "email", "notify", "catalog", "ticketing", "payment", "account"):
        body = httpx.get(profile.url(port_name, "/healthz"), timeout=5).json()
        assert body["status"] == "ok", (port_name, body)
        assert all(v == "ok" for v in body.get("checks", {}).values())


def test_page_has_no_unresolved_template_markers(api):
    assert not re.search(r"\{\{|\{%", api.get("/").text)


def test_the_inventorys_internal_api_refuses_callers_without_the_service_token(profile, api):
    resp = httpx.patch(profile.url("inventory", "/internal/tickets/camping-pass"), json={"price": "0.01"}, timeout=5)
    assert resp.status_code == 401
    assert {t["id"]: t["price"] for t in api.get("/api/tickets").json()}["camping-pass"] != "0.01"


@pytest.mark.parametrize("old,new", [
    ("/my-orders?page=2", "/cart/my-orders?page=2"),
    ("/orders/0b9c2d4e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", "/cart/orders/0b9c2d4e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"),
    ("/tickets/ABCDEFGHJK0123456789", "/cart/tickets/ABCDEFGHJK0123456789"),
    ("/dashboard", "/admin/"), ("/dashboard/tickets", "/admin/tickets"),
    ("/dashboard/orders?q=anna", "/admin/orders?q=anna"),
    ("/dashboard/orders/0b9c2d4e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", "/admin/orders/0b9c2d4e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"),
    ("/gate", "/gate/"), ("/account", "/account/"), ("/signup", "/account/signup"),
    ("/verify-email?token=abc", "/account/verify-email?token=abc"),
    ("/reset-password?token=abc", "/account/reset-password?token=abc"),
    ("/forgot-password", "/account/forgot-password"), ("/login-link?token=abc", "/account/login-link?token=abc"),
])
def test_the_addresses_people_have_lead_to_the_page_where_it_lives_now(gateway, old, new):
    """Each app owns its pages under its prefix; bookmarks and the links in mails sent before still work."""
    with httpx.Client(base_url=gateway, timeout=10) as client:
        moved = client.get(old)
        assert moved.status_code == 301 and moved.headers["location"].endswith(new)
        page = client.get(new, follow_redirects=True)  # an organiser's page sends a stranger to log in first
    assert page.status_code in (200, 400) and 'class="shell_header"' in page.text  # composed in the frame
