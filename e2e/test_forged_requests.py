"""A page on another origin (another port of the same host: same-site, so the browser sends our Lax
cookies along) tries to act for a logged-in organiser and buyer. Each attempt is refused, in Chromium."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import expect
from test_browser import log_in

from e2e_helpers import bearer, new_ticket_type

pytestmark = pytest.mark.stack
SECURITY_HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.fixture(scope="module")
def attacker(profile):
    """Serves whatever page a test puts in `pages`, on a port of its own."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, "").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", profile.ports["gateway"] + 999), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", pages
    server.shutdown()


def form(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(f'<input name="{k}" value="{v}">' for k, v in fields.items())
    return f'<form id="f" method="post" action="{action}">{inputs}<button>go</button></form>'


def test_another_origin_cannot_change_a_ticket_order_read_logs_or_frame(browser, gateway, api, admin_token,
                                                                      attacker):
    origin, pages = attacker
    ticket = new_ticket_type(api, admin_token, price="20.00", stock=5)
    context = browser.new_context(base_url=gateway)
    try:
        page = context.new_page()
        log_in(page, "admin", "admin123")

        # a plain form POST to the ticket editor
        pages["/price"] = form(f"{gateway}/admin/tickets/{ticket['id']}",
                               {"name": ticket["name"], "price": "0.01", "stock": "5", "stock_seen": "5"})
        page.goto(origin + "/price")
        page.locator("#f button").click()
        expect(page.locator("body")).to_contain_text("cross-origin request refused")
        price = {t["id"]: t["price"] for t in api.get("/api/admin/tickets", headers=bearer(admin_token)).json()}
        assert price[ticket["id"]] == "20.00"

        # form POSTs that would fill the cart and check out
        before = len(api.get("/api/orders", headers=bearer(admin_token)).json())
        pages["/add"] = form(f"{gateway}/cart/items", {"ticket_id": ticket["id"], "quantity": "1"})
        page.goto(origin + "/add")
        page.locator("#f button").click()
        expect(page.locator("body")).to_contain_text("cross-origin request refused")
        pages["/buy"] = form(f"{gateway}/cart/checkout", {"version": "1"})
        page.goto(origin + "/buy")
        page.locator("#f button").click()
        expect(page.locator("body")).to_contain_text("cross-origin request refused")
        pages["/api"] = form(f"{gateway}/api/auth/logout", {})
        page.goto(origin + "/api")
        page.locator("#f button").click()
        expect(page.locator("body")).to_contain_text("cross-origin request refused")
        assert len(api.get("/api/orders", headers=bearer(admin_token)).json()) == before
        assert api.get("/api/cart", headers=bearer(admin_token)).json()["items"] == []

        # a WebSocket to the admin's live logs
        pages["/ws"] = "<p>logs</p>"
        page.goto(origin + "/ws")
        outcome = page.evaluate("""url => new Promise(resolve => {
            const ws = new WebSocket(url);
            let got = 0;
            ws.onmessage = () => { got += 1; };
            ws.onclose = ev => resolve({code: ev.code, got});
            setTimeout(() => resolve({code: "still open", got}), 5000);
        })""", gateway.replace("http://", "ws://") + "/ws/logs")
        assert outcome["got"] == 0 and outcome["code"] != "still open", outcome

        # a frame of the ticket editor
        pages["/frame"] = f'<iframe src="{gateway}/admin/tickets" width="800" height="600"></iframe>'
        page.goto(origin + "/frame")
        page.wait_for_timeout(1500)
        framed = [f for f in page.frames if f != page.main_frame]
        assert framed and all(f.url.startswith("chrome-error://") or not f.url.startswith(gateway) for f in framed)
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/", "/login", "/cart/my-orders", "/admin/", "/cart/fragments/v1/cart",
                                  "/api/tickets", "/shell/static/shell.css", "/no-such-page"])
def test_security_headers_are_on_every_answer(gateway, path):
    resp = httpx.get(gateway + path, timeout=10)
    for name, expected in SECURITY_HEADERS.items():
        assert expected in resp.headers.get(name, ""), (path, name, resp.headers.get(name))
    assert "script-src 'self'" in resp.headers["content-security-policy"]


def test_our_own_pages_still_work_under_the_policy(page):
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, "guest", "festflow")
    expect(page.locator("#shell-bell")).to_have_attribute("data-connected", "true")
    page.locator('.catalog [data-ticket-id="camping-pass"]').get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart")).to_contain_text("Added 1 × Camping Pass.")
    assert not [e for e in errors if "Content Security Policy" in e], errors
