"""Playwright in Debian's Chromium against the real stack, through the gateway."""
import pytest
from playwright.sync_api import Page, expect

from e2e_helpers import eventually, mails_for

pytestmark = pytest.mark.stack


def log_in(page: Page, username: str, password: str) -> None:
    """Logs in and empties the account's cart (kept server-side, so it outlives a browser context), so
    each test starts from an empty cart."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".shell_user")).to_contain_text(username)
    items = page.request.get("/api/cart").json()["items"]
    for item in items:
        assert page.request.delete(f"/api/cart/items/{item['ticket_id']}").ok
    if items:
        page.reload()


def stock_on_page(page: Page, ticket_id: str) -> int:
    return int(page.locator(f'.catalog [data-ticket-id="{ticket_id}"] [data-role="stock"]').inner_text())


def test_anonymous_visitor_sees_all_three_fragments(page: Page):
    page.goto("/")
    expect(page.locator('[data-fragment="mf-catalog:ticket-list"]')).to_be_visible()
    expect(page.locator('[data-fragment="mf-cart:cart"]')).to_be_visible()
    expect(page.locator('[data-fragment="mf-admin:nav"]')).to_be_attached()
    for ticket_id in ("general-admission", "vip-weekend", "camping-pass"):  # the seeded types
        expect(page.locator(f'.catalog_ticket[data-ticket-id="{ticket_id}"]')).to_be_visible()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    assert page.evaluate("typeof htmx") == "object"  # the static HTMX file loaded


def test_wrong_password_shows_a_message(page: Page):
    page.goto("/login")
    page.get_by_label("Username").fill("guest")
    page.get_by_label("Password").fill("nope")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")


def test_buyer_journey_checkout_bell_orders_stock_and_mail(page: Page, profile):
    log_in(page, "guest", "festflow")
    expect(page.locator("#shell-bell")).to_have_attribute("data-connected", "true")
    expect(page.locator("body")).to_have_attribute("data-catalog-live", "true")
    camping, general = stock_on_page(page, "camping-pass"), stock_on_page(page, "general-admission")

    row = page.locator('.catalog [data-ticket-id="camping-pass"]')
    row.get_by_label("Qty").fill("2")
    row.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart")).to_contain_text("Added 2 × Camping Pass.")
    page.locator('.catalog [data-ticket-id="general-admission"]').get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart")).to_contain_text("Added 1 × General Admission.")
    expect(page.locator('#cart [data-role="total"]')).to_have_text("179.00")

    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="CHECKOUT").click()
    expect(page.locator("#cart")).to_contain_text("waiting for confirmation")
    order_id = page.locator(".cart_last-order").get_attribute("data-order-id")

    # the confirmation arrives over the WebSocket: bell count, message, and no page reload
    expect(page.locator("#shell-bell-count")).to_have_text("1")
    page.locator(".shell_bell-button").click()
    expect(page.locator("#shell-bell-list li").first).to_contain_text("Order confirmed")
    expect(page.locator(".cart_last-order")).to_have_attribute("data-status", "CONFIRMED")
    assert page.evaluate("window.__sameDocument") is True
    expect(page.locator('.catalog [data-ticket-id="camping-pass"] [data-role="stock"]')).to_have_text(str(camping - 2))
    expect(page.locator('.catalog [data-ticket-id="general-admission"] [data-role="stock"]')).to_have_text(
        str(general - 1))
    page.screenshot(path=str(profile.run_dir / "buyer-journey.png"), full_page=True)

    page.locator(".shell_nav").get_by_role("link", name="My orders").click()
    expect(page.locator(f'#my-orders tr[data-order-id="{order_id}"]')).to_have_attribute("data-status", "CONFIRMED")

    mails = eventually(lambda: mails_for(profile, order_id), what="the confirmation mail")
    assert len(mails) == 1 and "confirmed" in mails[0]["subject"]


def test_stock_sold_elsewhere_updates_an_open_catalog(page: Page, api, guest_token):
    from e2e_helpers import place_order
    page.goto("/")
    expect(page.locator("body")).to_have_attribute("data-catalog-live", "true")
    before = stock_on_page(page, "camping-pass")
    assert place_order(api, guest_token, [("camping-pass", 3)]).status_code == 202
    expect(page.locator('.catalog [data-ticket-id="camping-pass"] [data-role="stock"]')).to_have_text(str(before - 3))


def test_anonymous_checkout_asks_to_log_in(page: Page):
    page.goto("/")
    page.locator('.catalog [data-ticket-id="camping-pass"]').get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart")).to_contain_text("Log in to check out.")
    expect(page.get_by_role("button", name="CHECKOUT")).to_have_count(0)


def test_cart_quantity_remove_and_logout(page: Page, api, admin_token):
    from e2e_helpers import new_buyer, new_ticket_type
    ticket = new_ticket_type(api, admin_token, price="249.00", stock=30)  # its own: others sell VIP out
    name = ticket["name"]
    # a buyer of its own: a notification of another test's order would refresh the cart, and a change typed
    # into the fresh cart before htmx has taken it in sends nothing
    log_in(page, *new_buyer(api, admin_token))
    page.locator(f'.catalog [data-ticket-id="{ticket["id"]}"]').get_by_role("button", name="Add to cart").click()
    expect(page.locator("#cart")).to_contain_text(f"Added 1 × {name}.")
    quantity = page.get_by_label(f"Quantity of {name}")
    quantity.fill("3")
    quantity.dispatch_event("change")
    expect(page.locator('#cart [data-role="total"]')).to_have_text("747.00")
    for typed in ("11", "-1", "two"):
        quantity = page.get_by_label(f"Quantity of {name}")
        quantity.fill(typed)
        # the answer to the change carries the message beside the line
        with page.expect_response(lambda r: r.url.endswith("/quantity")) as answer:
            quantity.dispatch_event("change")
        assert 'class="cart_line-error"' in answer.value.text()
        expect(page.get_by_label(f"Quantity of {name}")).to_have_value("3")  # the box and the total agree
        expect(page.locator('#cart [data-role="total"]')).to_have_text("747.00")
    page.get_by_role("button", name=f"Remove {name}").click()
    expect(page.locator("#cart")).to_contain_text("Your cart is empty.")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    expect(page.locator("#shell-bell")).to_have_count(0)
