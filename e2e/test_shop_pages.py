"""My orders and the order page, the "page not found" page, the favicon and the API docs offline."""
import pytest
from playwright.sync_api import Page, expect
from test_browser import log_in

from e2e_helpers import login, new_buyer, new_ticket_type, place_order, wait_status

pytestmark = pytest.mark.stack


def test_my_orders_names_totals_paging_and_the_order_page(page: Page, api, admin_token):
    name, password = new_buyer(api, admin_token)
    token = login(api, name, password)
    ticket = new_ticket_type(api, admin_token, price="10.00", stock=3)
    orders = [place_order(api, token, [(ticket["id"], 1)], key=f"k{n}").json()["order_id"] for n in range(22)]
    for order_id in orders:
        wait_status(api, token, order_id, "CONFIRMED" if order_id in orders[:3] else "REJECTED", timeout=30)
    log_in(page, name, password)
    page.goto("/cart/my-orders")
    rows = page.locator("#my-orders tbody tr")
    expect(rows).to_have_count(20)  # newest first, twenty a page
    newest = page.locator(f'#my-orders tr[data-order-id="{orders[-1]}"]')
    expect(newest).to_contain_text(f"1 × {ticket['name']}")  # names, never ids
    expect(newest).to_contain_text("€10.00")
    expect(newest).to_contain_text("not charged")
    expect(newest).to_contain_text(f"{ticket['name']} is sold out")
    placed = newest.locator("time")
    assert placed.get_attribute("datetime").endswith("Z") and "UTC" not in placed.inner_text()  # the buyer's zone
    page.get_by_role("link", name="Older →").click()
    expect(rows).to_have_count(2)
    expect(page.locator(f'#my-orders tr[data-order-id="{orders[0]}"]')).to_have_attribute("data-status", "CONFIRMED")

    page.get_by_role("link", name=f"Order {orders[0][:8]}").click()
    expect(page).to_have_url(f"/cart/orders/{orders[0]}")
    detail = page.locator("#order-detail")
    expect(detail).to_have_attribute("data-status", "CONFIRMED")
    expect(detail.locator("tbody tr")).to_contain_text([f"{ticket['name']}1€10.00€10.00"])
    expect(detail.locator("tfoot")).to_contain_text("€10.00")

    other, other_password = new_buyer(api, admin_token)  # another buyer sees nothing of it
    page.get_by_role("button", name="Log out").click()
    log_in(page, other, other_password)
    page.goto(f"/cart/orders/{orders[0]}")
    expect(page.locator("#order-detail")).to_contain_text("There is no such order in your account")


def test_unknown_addresses_get_an_html_page_not_found_and_the_site_has_a_favicon(api):
    missing = api.get("/no/such/page")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Page not found" in missing.text and 'href="/"' in missing.text
    assert api.get("/orders/not-an-order-id").status_code == 404
    wrong_shape = api.get("/cart/orders/not-an-order-id")  # the owner's own "page not found", in the frame
    assert wrong_shape.status_code == 404 and "Page not found" in wrong_shape.text
    assert 'class="shell_header"' in wrong_shape.text  # the frame's header, composed in
    icon = api.get("/favicon.ico")
    assert icon.status_code == 200 and icon.content[:4] == b"\0\0\1\0"
    assert api.get("/shell/static/favicon.svg").headers["content-type"].startswith("image/svg+xml")


@pytest.mark.parametrize("path,title", [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")])
def test_the_api_docs_load_their_assets_from_the_service_itself(browser, profile, path, title):
    context = browser.new_context()
    try:
        page = context.new_page()
        outside = []
        # what was fetched (ReDoc's CDN logo is asked for and refused by the page's CSP: not fetched)
        page.on("requestfinished", lambda r: outside.append(r.url) if r.url.startswith("http")
                and not r.url.startswith(profile.url("order")) else None)
        page.goto(profile.url("order", path))
        expect(page.locator(title).first).to_contain_text("FestFlow order service")
        assert outside == []  # nothing from a CDN: the docs work without the internet
    finally:
        context.close()
