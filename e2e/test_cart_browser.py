"""Playwright: a cart that is always the truth, in Chromium through the gateway on the real stack."""

import pytest
from playwright.sync_api import Page, expect
from test_browser import log_in

from e2e_helpers import bearer, eventually, new_buyer, new_ticket_type, place_order, wait_status

pytestmark = pytest.mark.stack


def add_to_cart(page: Page, ticket_id: str, quantity: int = 1) -> None:
    row = page.locator(f'.catalog [data-ticket-id="{ticket_id}"]')
    row.get_by_label("Qty").fill(str(quantity))
    row.get_by_role("button", name="Add to cart").click()
    # the line itself, not the passing message (a refresh that the bell triggers may replace it)
    expect(page.locator(f'#cart tr[data-ticket-id="{ticket_id}"]')).to_be_visible()


def new_last_order(page: Page, seen: set[str]) -> str:
    def probe():
        last = page.locator(".cart_last-order")
        order_id = last.get_attribute("data-order-id") if last.count() else None
        return order_id if order_id and order_id not in seen else None
    return eventually(probe, what="the new order in the cart")


def test_a_repeat_buyer_buys_five_times_while_the_dashboard_is_open(browser, gateway, api, admin_token):
    ticket = new_ticket_type(api, admin_token, price="10.00", stock=100)
    organiser = browser.new_context(base_url=gateway)
    buyer = browser.new_context(base_url=gateway)
    try:
        dashboard = organiser.new_page()
        log_in(dashboard, "admin", "admin123")
        dashboard.goto("/admin/")
        expect(dashboard.locator("body")).to_have_attribute("data-admin-live", "true")

        shop = buyer.new_page()
        log_in(shop, *new_buyer(api, admin_token))  # a buyer of its own: no other test's bell rings here
        expect(shop.locator("#shell-bell")).to_have_attribute("data-connected", "true")
        expect(shop.locator("body")).to_have_attribute("data-catalog-live", "true")
        seen = set()
        for n in range(1, 6):
            add_to_cart(shop, ticket["id"], n % 3 + 1)
            expect(shop.locator("#cart .cart_lines tbody tr")).to_have_count(1)
            shop.get_by_role("button", name="CHECKOUT").click()
            order_id = new_last_order(shop, seen)
            seen.add(order_id)
            last = shop.locator(f'.cart_last-order[data-order-id="{order_id}"]')
            expect(last).to_have_attribute("data-status", "CONFIRMED")
            expect(shop.locator("#shell-bell-count")).to_have_text(str(n))  # the bell's refresh came and went
            expect(shop.locator("#cart .cart_empty")).to_be_visible()
            expect(shop.locator("#cart")).not_to_contain_text("Checkout failed")
            expect(shop.locator("#cart .cart_lines")).to_have_count(0)  # no old line back
        assert all(shop.request.get(f"/api/orders/{order_id}").json()["status"] == "CONFIRMED" for order_id in seen)
    finally:
        organiser.close()
        buyer.close()


def test_a_rejected_checkout_keeps_the_cart_with_the_shortage_marked(page: Page, api, admin_token):
    ticket = new_ticket_type(api, admin_token, stock=3)
    log_in(page, "guest", "festflow")
    expect(page.locator("#shell-bell")).to_have_attribute("data-connected", "true")
    add_to_cart(page, ticket["id"], 3)
    # another buyer takes one meanwhile: the cart as shown no longer fits
    wait_status(api, admin_token, place_order(api, admin_token, [(ticket["id"], 1)]).json()["order_id"],
                "CONFIRMED")
    page.get_by_role("button", name="CHECKOUT").click()
    expect(page.locator(".cart_last-order")).to_have_attribute("data-status", "REJECTED")
    line = page.locator(f'#cart tr[data-ticket-id="{ticket["id"]}"]')
    expect(line).to_have_attribute("data-problem", "only 2 left")
    expect(page.get_by_label(f"Quantity of {ticket['name']}")).to_have_value("3")
    expect(page.locator("#cart .cart_notice")).to_contain_text(f"only 2 {ticket['name']} left, 3 requested")
    expect(page.get_by_role("button", name="CHECKOUT")).to_be_disabled()
    # setting the quantity to what is left makes it buyable again
    quantity = page.get_by_label(f"Quantity of {ticket['name']}")
    quantity.fill("2")
    quantity.dispatch_event("change")
    expect(page.get_by_role("button", name="CHECKOUT")).to_be_enabled()
    page.get_by_role("button", name="CHECKOUT").click()
    expect(page.locator(".cart_last-order")).to_have_attribute("data-status", "CONFIRMED")


def test_quantity_zero_removes_and_an_anonymous_cart_follows_the_buyer_in_but_not_the_next_person(
        page: Page, api, guest_token):
    page.goto("/")
    add_to_cart(page, "camping-pass", 2)
    quantity = page.get_by_label("Quantity of Camping Pass")
    quantity.fill("0")
    quantity.dispatch_event("change")
    expect(page.locator("#cart .cart_empty")).to_be_visible()
    add_to_cart(page, "camping-pass", 2)
    for item in api.get("/api/cart", headers=bearer(guest_token)).json()["items"]:
        api.delete(f"/api/cart/items/{item['ticket_id']}", headers=bearer(guest_token))
    page.goto("/login")
    page.get_by_label("Username").fill("guest")
    page.get_by_label("Password").fill("festflow")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".shell_user")).to_contain_text("guest")
    expect(page.get_by_label("Quantity of Camping Pass")).to_have_value("2")  # merged into the account
    expect(page.get_by_role("button", name="CHECKOUT")).to_be_enabled()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    expect(page.locator("#cart .cart_empty")).to_be_visible()  # the next person on this browser
    assert api.get("/api/cart", headers=bearer(guest_token)).json()["items"][0]["quantity"] == 2
    api.delete("/api/cart/items/camping-pass", headers=bearer(guest_token))


def test_a_failed_checkout_says_why_in_the_cart(page: Page, api, guest_token):
    log_in(page, "guest", "festflow")
    add_to_cart(page, "camping-pass", 1)
    # the cart changes elsewhere (another tab) after this page showed it
    assert api.post("/api/cart/items", headers=bearer(guest_token),
                    json={"ticket_id": "camping-pass", "quantity": 1}).status_code == 200
    page.get_by_role("button", name="CHECKOUT").click()
    expect(page.locator("#cart .cart_error")).to_contain_text("Checkout failed: Your cart changed")
    expect(page.get_by_label("Quantity of Camping Pass")).to_have_value("2")  # nothing was bought; all kept
    expect(page.locator("#cart-outcome")).to_be_focused()
    api.delete("/api/cart/items/camping-pass", headers=bearer(guest_token))
