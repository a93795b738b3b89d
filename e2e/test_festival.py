"""The festival on the page, on the real stack: the organiser edits its details and a ticket type's
description and sale window; buyers see them in the shop and in the confirmation mail."""
import uuid

import pytest
from playwright.sync_api import expect
from test_browser import log_in
from test_cart_browser import add_to_cart, new_last_order

from e2e_helpers import bearer, eventually, mails_for, new_buyer, new_ticket_type

pytestmark = pytest.mark.stack
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f80f0000010101005bde5e5c0000000049454e44ae426082")


@pytest.fixture
def festival(api, admin_token):
    """The festival's details as they were, put back after the test."""
    before = api.get("/api/festival").json()
    yield before
    api.patch("/api/admin/festival", headers=bearer(admin_token),
              json={k: before[k] for k in ("name", "starts_on", "ends_on", "venue", "address", "description",
                                           "payment_hold_minutes", "bank_transfer_days", "iban", "bic",
                                           "beneficiary", "vat_id", "seller_address")})
    api.delete("/api/admin/festival/banner", headers=bearer(admin_token))


def test_the_organiser_sets_how_buyers_pay_and_a_bad_account_is_refused_with_the_field(api, admin_token, festival):
    auth = bearer(admin_token)
    bad = api.patch("/api/admin/festival", headers=auth, json={"iban": "DE89 3704 0044 0532 0130 01"})
    assert bad.status_code == 422 and "iban: not a valid IBAN" in bad.text
    assert api.patch("/api/admin/festival", headers=auth, json={"payment_hold_minutes": 121}).status_code == 422
    saved = api.patch("/api/admin/festival", headers=auth, json={
        "payment_hold_minutes": 20, "bank_transfer_days": 3, "iban": "de89 3704 0044 0532 0130 00",
        "bic": "COBADEFFXXX", "beneficiary": "Riverfest GmbH", "vat_id": "DE123456789",
        "seller_address": "1 Festival Way, Springfield"})
    assert saved.status_code == 200 and saved.json()["iban"] == "DE89370400440532013000"
    assert eventually(lambda: api.get("/api/festival").json()["payment_hold_minutes"] == 20)
    shown = api.get("/api/festival").json()
    assert (shown["iban"], shown["bic"], shown["beneficiary"]) == ("DE89370400440532013000", "COBADEFFXXX",
                                                                    "Riverfest GmbH")


def test_the_admin_api_edits_the_festival_and_refuses_bad_details(api, admin_token, guest_token, festival):
    auth = bearer(admin_token)
    assert api.patch("/api/admin/festival", headers=bearer(guest_token), json={"name": "x"}).status_code == 403
    bad = api.patch("/api/admin/festival", headers=auth, json={"starts_on": "2027-07-20", "ends_on": "2027-07-18"})
    assert bad.status_code == 422 and "cannot end before it starts" in bad.text
    assert api.patch("/api/admin/festival", headers=auth, json={"colour": "red"}).status_code == 422
    changed = api.patch("/api/admin/festival", headers=auth, json={"name": "Riverfest 2027", "venue": "The Meadows"})
    assert changed.status_code == 200 and changed.json()["name"] == "Riverfest 2027"
    assert eventually(lambda: api.get("/api/festival").json()["venue"] == "The Meadows")

    svg = api.put("/api/admin/festival/banner", headers={**auth, "Content-Type": "image/svg+xml"},
                  content=b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>")
    assert svg.status_code == 415
    big = api.put("/api/admin/festival/banner", headers=auth, content=PNG + b"\0" * (2 * 1024 * 1024))
    assert big.status_code == 413
    uploaded = api.put("/api/admin/festival/banner", headers={**auth, "Content-Type": "image/png"}, content=PNG)
    assert uploaded.status_code == 200, uploaded.text
    image = api.get(uploaded.json()["banner_url"])
    assert image.status_code == 200 and image.content == PNG and image.headers["content-type"] == "image/png"


def test_a_ticket_type_outside_its_sale_window_cannot_be_bought(api, admin_token, guest_token):
    auth = bearer(admin_token)
    ticket = new_ticket_type(api, admin_token, stock=5)
    bad = api.patch(f"/api/admin/tickets/{ticket['id']}", headers=auth,
                    json={"sale_starts_at": "2099-03-01T10:00Z", "sale_ends_at": "2099-01-01T00:00Z"})
    assert bad.status_code == 422 and "sales must end after they start" in bad.text
    later = api.patch(f"/api/admin/tickets/{ticket['id']}", headers=auth,
                      json={"sale_starts_at": "2099-03-01T10:00Z", "description": "Early entry"})
    assert later.status_code == 200 and later.json()["sale_starts_at"] == "2099-03-01T10:00Z"
    shown = eventually(lambda: next((t for t in api.get("/api/tickets").json()
                                     if t["id"] == ticket["id"] and t["sale_state"] == "upcoming"), None))
    assert shown["description"] == "Early entry"

    def refused():
        resp = api.post("/api/orders", headers={**bearer(guest_token), "Idempotency-Key": str(uuid.uuid4())},
                        json={"items": [{"ticket_id": ticket["id"], "quantity": 1}]})
        return resp if resp.status_code == 422 else None
    assert "open at 01 Mar 2099 10:00 UTC" in eventually(refused, what="checkout refused before sales open").text


def test_festival_details_edited_by_the_organiser_reach_the_shop_and_the_mail(browser, gateway, api, admin_token,
                                                                           profile, festival):
    ticket = new_ticket_type(api, admin_token, price="25.00", stock=10)
    organiser, buyer = browser.new_context(base_url=gateway), browser.new_context(base_url=gateway)
    try:
        shop = buyer.new_page()
        log_in(shop, *new_buyer(api, admin_token))
        expect(shop.locator("body")).to_have_attribute("data-catalog-live", "true")

        editor = organiser.new_page()
        log_in(editor, "admin", "admin123")
        editor.goto("/admin/festival")
        editor.get_by_label("Last day").fill("2027-07-01")  # before the first day: refused beside the field
        editor.get_by_role("button", name="SAVE FESTIVAL").click()
        expect(editor.locator("#festival-ends_on-error")).to_contain_text("cannot end before it starts")
        name = f"Lakeside Sounds {uuid.uuid4().hex[:4]}"
        editor.get_by_label("Name", exact=True).fill(name)
        editor.get_by_label("First day").fill("2027-08-06")
        editor.get_by_label("Last day").fill("2027-08-08")
        editor.get_by_label("Venue").fill("Lakeside Meadow")
        editor.get_by_label("Address", exact=True).fill("Lakeside Meadow, 2 Shore Road, Lakeview")
        editor.get_by_label("Description").fill("Three days by the lake.")
        editor.get_by_role("button", name="SAVE FESTIVAL").click()
        expect(editor.locator(".admin_message")).to_contain_text("Saved")

        editor.goto("/admin/tickets")
        row = editor.locator(f'#admin-ticket-{ticket["id"]}')
        row.get_by_label(f"Description of {ticket['name']}").fill("Entry on Saturday, with a lake swim.")
        row.get_by_role("button", name="SAVE CHANGES").click()
        expect(editor.locator(f'#admin-ticket-{ticket["id"]} .admin_message')).to_contain_text("Saved")

        # the buyer's open page hears of both without a reload
        expect(shop.locator(".catalog_festival-name")).to_have_text(name)
        expect(shop.locator(".catalog_festival-facts")).to_contain_text("Fri 6 - Sun 8 August 2027")
        expect(shop.locator(".catalog_festival-facts")).to_contain_text("Lakeside Meadow, 2 Shore Road, Lakeview")
        expect(shop.locator(f'.catalog [data-ticket-id="{ticket["id"]}"] .catalog_description')).to_have_text(
            "Entry on Saturday, with a lake swim.")

        add_to_cart(shop, ticket["id"], 1)
        shop.get_by_role("button", name="CHECKOUT").click()
        order_id = new_last_order(shop, set())
        expect(shop.locator(f'.cart_last-order[data-order-id="{order_id}"]')).to_have_attribute("data-status",
                                                                                                 "CONFIRMED")
        mail = eventually(lambda: (mails_for(profile, order_id) or [None])[0], timeout=30, what="the confirmation")
        assert name in mail["subject"] and name in mail["body"]
        assert "When:  Fri 6 - Sun 8 August 2027" in mail["body"]
        assert "Where: Lakeside Meadow, 2 Shore Road, Lakeview" in mail["body"]
    finally:
        organiser.close()
        buyer.close()
