"""Playwright: the organiser edits a ticket; a buyer in another browser context sees it live and buys;
the organiser's chart, KPIs, logs and STOCK counter all move without a reload."""
import pytest
from playwright.sync_api import Page, expect
from test_browser import log_in

from e2e_helpers import new_ticket_type

pytestmark = pytest.mark.stack


def _kpi(page: Page, name: str) -> int:
    return int(page.locator(f'[data-kpi="{name}"]').inner_text())


def test_admin_edit_reaches_buyers_and_a_sale_moves_the_dashboard(browser, gateway, api, admin_token):
    ticket = new_ticket_type(api, admin_token, price="20.00", stock=30)
    tid = ticket["id"]
    admin = browser.new_context(base_url=gateway)
    buyer = browser.new_context(base_url=gateway)
    try:
        editor = admin.new_page()
        editor.set_default_timeout(15000)
        log_in(editor, "admin", "admin123")
        expect(editor.get_by_role("link", name="ADMIN DASHBOARD")).to_be_visible()
        editor.goto("/admin/tickets")
        expect(editor.locator("body")).to_have_attribute("data-admin-live", "true")

        dashboard = admin.new_page()
        dashboard.set_default_timeout(15000)
        dashboard.goto("/admin/")
        expect(dashboard.locator("svg.admin_chart")).to_be_visible()
        expect(dashboard.locator("#admin-logs")).to_have_attribute("data-connected", "true")
        expect(dashboard.locator("body")).to_have_attribute("data-admin-live", "true")
        sold_before = _kpi(dashboard, "tickets-sold")
        confirmed_before = _kpi(dashboard, "orders-confirmed")
        dashboard.evaluate("window.__sameDocument = true")

        shop = buyer.new_page()
        shop.set_default_timeout(15000)
        log_in(shop, "guest", "festflow")
        expect(shop.locator("body")).to_have_attribute("data-catalog-live", "true")
        expect(shop.locator("#shell-bell")).to_have_attribute("data-connected", "true")
        shop.evaluate("window.__sameDocument = true")
        row = shop.locator(f'.catalog [data-ticket-id="{tid}"]')
        expect(row.locator('[data-role="price"]')).to_have_text("20.00")

        # the organiser changes price and stock and saves
        name = ticket["name"]
        editor.get_by_label(f"Price of {name}").fill("24.50")
        editor.get_by_label(f"Stock of {name}").fill("40")
        editor.locator(f"#admin-ticket-{tid}").get_by_role("button", name="SAVE CHANGES").click()
        expect(editor.locator(f"#admin-ticket-{tid} .admin_message")).to_have_text("Saved.")
        expect(editor.locator(f'#admin-ticket-{tid} [data-role="stock"]')).to_have_text("40")

        # the buyer sees it without reloading, and buys one at the new price
        expect(row.locator('[data-role="price"]')).to_have_text("24.50")
        expect(row.locator('[data-role="stock"]')).to_have_text("40")
        row.get_by_role("button", name="Add to cart").click()
        expect(shop.locator('#cart [data-role="total"]')).to_have_text("24.50")
        shop.get_by_role("button", name="CHECKOUT").click()
        expect(shop.locator("#shell-bell-count")).to_have_text("1")
        assert shop.evaluate("window.__sameDocument") is True

        # the organiser's views move without a reload
        expect(editor.locator(f'#admin-ticket-{tid} [data-role="stock"]')).to_have_text("39")
        expect(dashboard.locator('[data-kpi="tickets-sold"]')).to_have_text(str(sold_before + 1))
        expect(dashboard.locator('[data-kpi="orders-confirmed"]')).to_have_text(str(confirmed_before + 1))
        expect(dashboard.locator('[data-role="chart-total"]')).to_have_text(str(sold_before + 1))
        remaining = dashboard.locator(f'.admin_remaining [data-ticket-id="{tid}"] [data-role="remaining"]')
        expect(remaining).to_have_text("39")
        expect(dashboard.locator("#admin-log-list li", has_text=f"stock of {tid} is now 39")).to_have_count(1)
        assert dashboard.evaluate("window.__sameDocument") is True

        # newest first, and the filters work
        first = dashboard.locator("#admin-log-list li").first
        expect(first).to_be_visible()
        dashboard.locator("#admin-log-service").select_option("email-function")
        expect(dashboard.locator("#admin-log-list li:visible").first).to_contain_text("email-function")
        assert dashboard.locator("#admin-log-list li:visible", has_text="inventory-service").count() == 0
        dashboard.locator("#admin-log-service").select_option("")
        dashboard.locator("#admin-log-level").select_option("ERROR")
        assert dashboard.locator("#admin-log-list li:visible", has_text="INFO").count() == 0
        dashboard.screenshot(path="/tmp/festflow-dashboard.png", full_page=True)
    finally:
        admin.close()
        buyer.close()


def test_invalid_edit_shows_the_reason_and_changes_nothing(page: Page, api, admin_token):
    ticket = new_ticket_type(api, admin_token, price="20.00", stock=30)
    log_in(page, "admin", "admin123")
    page.goto("/admin/tickets")
    name = ticket["name"]
    page.get_by_label(f"Price of {name}").fill("12.345")
    page.get_by_label(f"Stock of {name}").fill("-2")
    page.locator(f"#admin-ticket-{ticket['id']}").get_by_role("button", name="SAVE CHANGES").click()
    errors = page.locator(f"#admin-ticket-{ticket['id']} .admin_error")
    expect(errors).to_have_text(["price may have at most two decimals", "stock must be a whole number, 0 or more"])
    expect(page.get_by_label(f"Price of {name}")).to_have_value("12.345")  # what was typed stays to be fixed
    current = {t["id"]: t for t in api.get("/api/tickets").json()}[ticket["id"]]
    assert (current["price"], current["stock"]) == ("20.00", 30)

    page.get_by_label("New ticket name").fill("")
    page.get_by_label("New ticket price").fill("5")
    page.get_by_label("New ticket stock").fill("10")
    page.get_by_role("button", name="Add ticket type").click()
    expect(page.locator(".admin_new .admin_error")).to_have_text("name must not be empty")


def test_buyer_is_refused_the_admin_pages(page: Page):
    log_in(page, "guest", "festflow")
    expect(page.get_by_role("link", name="ADMIN DASHBOARD")).to_have_count(0)
    for path in ("/admin/", "/admin/tickets"):
        page.goto(path)
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        expect(page.locator(".admin_kpis, .admin_ticket-form")).to_have_count(0)


def test_anonymous_visitor_is_sent_to_login_and_back(page: Page):
    page.goto("/admin/")
    expect(page).to_have_url("/login?next=/admin/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url("/admin/")
    expect(page.locator("svg.admin_chart")).to_be_visible()


def test_retired_type_leaves_an_open_catalog_and_can_come_back(browser, gateway, api, admin_token):
    ticket = new_ticket_type(api, admin_token)
    admin, buyer = browser.new_context(base_url=gateway), browser.new_context(base_url=gateway)
    try:
        shop = buyer.new_page()
        shop.goto("/")
        expect(shop.locator("body")).to_have_attribute("data-catalog-live", "true")
        entry = shop.locator(f'.catalog [data-ticket-id="{ticket["id"]}"]')
        expect(entry).to_be_visible()
        shop.evaluate("window.__sameDocument = true")

        editor = admin.new_page()
        log_in(editor, "admin", "admin123")
        editor.goto("/admin/tickets")
        editor.once("dialog", lambda dialog: dialog.accept())  # "Retire …?" confirmation
        editor.locator(f"#admin-ticket-{ticket['id']}").get_by_role("button", name="Retire").click()
        expect(editor.locator(".admin_editor > .admin_message")).to_have_text(f"{ticket['name']} is retired.")
        expect(entry).to_have_count(0)
        assert shop.evaluate("window.__sameDocument") is True

        editor.locator(f"#admin-ticket-{ticket['id']}").get_by_role("button", name="Put back on sale").click()
        expect(editor.locator(".admin_editor > .admin_message")).to_have_text(f"{ticket['name']} is on sale again.")
        expect(entry).to_be_visible()
    finally:
        admin.close()
        buyer.close()
