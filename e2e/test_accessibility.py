"""Accessible and phone-first, in Chromium through the gateway: an axe-core audit of every page (axe
from npm, vendored in e2e/vendor with its licence), no sideways scroll at 390 px, a buyer's whole
journey on a phone, and the keyboard behaviour of the bell and the skip link."""
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from test_browser import log_in
from test_cart_browser import add_to_cart, new_last_order

from e2e_helpers import bearer, eventually, new_buyer, new_ticket_type, place_order, wait_status

pytestmark = pytest.mark.stack
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
PAGES = {
    None: ["/", "/login", "/cart/waiting-room",
           "/account/signup", "/account/forgot-password", "/account/reset-password?token=x",
           "/account/login-link?token=x",
           "/no-such-page"],
    "buyer": ["/", "/cart/my-orders", "/account/", "ORDER", "TICKET"],
    "admin": ["/admin/", "/admin/tickets", "/admin/festival", "/admin/security", "/admin/payments",
              "/admin/waiting-room", "/gate/"],
}


def serious_violations(page: Page) -> list[str]:
    """What axe-core finds of impact serious or critical against WCAG 2.1 A/AA on the page as it is."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {runOnly: {type: "tag",
            values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}});
        return result.violations.filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => v.id + ": " + v.help + " at " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
    }""")
    return found


@pytest.fixture(scope="module")
def buyer_with_an_order(_api_client, admin_token):
    api = _api_client
    name, password = new_buyer(api, admin_token)
    ticket = new_ticket_type(api, admin_token, stock=20)
    token = api.post("/api/auth/login", json={"username": name, "password": password}).json()["access_token"]
    order_id = place_order(api, token, [(ticket["id"], 2)]).json()["order_id"]
    wait_status(api, token, order_id, "CONFIRMED")
    tickets = eventually(lambda: api.get(f"/api/orders/{order_id}", headers=bearer(token)).json()["tickets"],
                         timeout=30, what="the order's tickets")
    return name, password, order_id, tickets[0]["code"]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("who", list(PAGES), ids=["visitor", "buyer", "organiser"])
def test_every_page_passes_the_audit_and_fits_a_phone(browser, gateway, buyer_with_an_order, viewport, who):
    # the audit script is injected into the page: the pages' own CSP (script-src 'self') is lifted for it
    context = browser.new_context(base_url=gateway, viewport=viewport, bypass_csp=True)
    try:
        page = context.new_page()
        if who == "buyer":
            log_in(page, *buyer_with_an_order[:2])
        elif who == "admin":
            log_in(page, "admin", "admin123")
        problems = []
        for path in PAGES[who]:
            page.goto({"ORDER": f"/cart/orders/{buyer_with_an_order[2]}",
                       "TICKET": f"/cart/tickets/{buyer_with_an_order[3]}"}.get(path, path))
            page.wait_for_load_state("networkidle")
            if who == "buyer" and path == "/":
                on_sale = page.locator(".catalog [data-ticket-id]").filter(has=page.locator("button:enabled")).first
                add_to_cart(page, on_sale.get_attribute("data-ticket-id"))  # (other tests leave some sold out)
            problems += [f"{path}: {v}" for v in serious_violations(page)]
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > viewport["width"]:
                problems.append(f"{path}: {width} px wide at {viewport['width']}")
        assert problems == []
    finally:
        context.close()


def test_a_buyer_logs_in_buys_and_sees_the_outcome_on_a_phone(browser, gateway, api, admin_token):
    ticket = new_ticket_type(api, admin_token, price="12.00", stock=10)
    context = browser.new_context(base_url=gateway, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        log_in(page, *new_buyer(api, admin_token))
        add_to_cart(page, ticket["id"], 2)
        cart = page.locator("#cart")
        assert cart.bounding_box()["y"] < page.locator("#catalog-ticket-list").bounding_box()["y"]  # cart first
        page.get_by_role("button", name="CHECKOUT").click()
        order_id = new_last_order(page, set())
        expect(page.locator("#cart-outcome")).to_be_focused()  # the outcome is where the buyer looks
        expect(page.locator(f'.cart_last-order[data-order-id="{order_id}"]')).to_have_attribute(
            "data-status", "CONFIRMED")
        expect(page.locator("#cart-outcome")).to_be_in_viewport()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()


def test_the_bell_panel_closes_on_escape_and_outside_and_the_skip_link_leads_to_the_content(page: Page,
                                                                                          guest_token, api):
    log_in(page, "guest", "festflow")
    bell = page.get_by_role("button", name="Notifications")
    bell.click()
    expect(page.locator("#shell-bell-panel")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#shell-bell-panel")).to_be_hidden()
    expect(bell).to_be_focused()
    expect(bell).to_have_attribute("aria-expanded", "false")
    bell.click()
    expect(page.locator("#shell-bell-panel")).to_be_visible()
    page.locator(".catalog_title").click()  # anywhere outside the panel
    expect(page.locator("#shell-bell-panel")).to_be_hidden()

    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    assert api.get("/api/auth/me", headers=bearer(guest_token)).status_code == 200
