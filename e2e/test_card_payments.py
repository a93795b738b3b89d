"""Card payments on the real stack: the payment service talks to Stripe's own test server (stripe-mock, started
by the test stack) and hears Stripe's events as signed webhooks (the tests sign them in Stripe's scheme:
stripe-mock sends none). The money is taken only after the inventory sold the tickets; an authorisation that
comes when the hold is gone and the tickets with it is cancelled; whatever Stripe sends how often, in whatever
order, and even while the payment service is killed, each order is settled once."""
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import httpx
import pytest
from playwright.sync_api import expect
from test_holds import (  # noqa: F401 (bank_transfers: a fixture, used by name)
    bank_transfers,
    camt053_from,
    held_order,
    import_statement,
    let_deadline_pass,
)
from test_stripe_webhooks import signed

from e2e_helpers import bearer, eventually, mails_for, new_ticket_type, stock_of, wait_status

pytestmark = pytest.mark.stack


def authorised(intent_id: str, order_id: str, kind: str = "payment_intent.amount_capturable_updated",
               created: int | None = None, event_id: str | None = None) -> tuple[bytes, dict[str, str]]:
    """A Stripe event about the intent, signed as Stripe signs it."""
    payload = json.dumps({"id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": kind,
                          "created": created or int(time.time()), "livemode": False,
                          "data": {"object": {"object": "payment_intent", "id": intent_id,
                                              "status": "requires_capture", "metadata": {"order_id": order_id}}}}
                         ).encode()
    return payload, signed(payload)


def send(api, payload: bytes, headers: dict[str, str]) -> int:
    return api.post("/api/payments/stripe/webhook", content=payload, headers=headers).status_code


def pay_by_card(api, token: str, order_id: str) -> str:
    resp = api.post(f"/api/payments/orders/{order_id}/card", headers=bearer(token))
    assert resp.status_code == 200, resp.text
    assert resp.json()["client_secret"] and resp.json()["intent_id"].startswith("pi_")
    return resp.json()["intent_id"]


def paid_by_card(api, admin_token: str, guest_token: str, ticket_id: str, quantity: int) -> dict:
    """A held order of the guest's paid by card: confirmed, and its money captured."""
    order = held_order(api, guest_token, ticket_id, quantity)
    intent = pay_by_card(api, guest_token, order["order_id"])
    assert send(api, *authorised(intent, order["order_id"])) == 200
    wait_status(api, guest_token, order["order_id"], "CONFIRMED")
    card_status(api, admin_token, order["order_id"], "captured")
    return order


def card_of(api, admin_token: str, order_id: str) -> dict:
    resp = api.get(f"/api/admin/payments/orders/{order_id}", headers=bearer(admin_token))
    assert resp.status_code == 200, resp.text
    return resp.json()["card"]


def card_status(api, admin_token, order_id, status):
    return eventually(lambda: (card := card_of(api, admin_token, order_id)) and card["status"] == status and card,
                      what=f"the card payment of {order_id} to be {status}")


def test_a_card_is_captured_only_after_the_sale_once_whatever_stripe_sends(api, admin_token, guest_token, profile,
                                                                         bank_transfers):  # noqa: F811
    ticket = new_ticket_type(api, admin_token, price="30.00", stock=4)
    order = held_order(api, guest_token, ticket["id"], 2)
    assert api.post(f"/api/payments/orders/{order['order_id']}/card", headers=bearer(admin_token)).status_code == 404
    intent = pay_by_card(api, guest_token, order["order_id"])
    assert card_of(api, admin_token, order["order_id"])["status"] == "prepared"
    now = int(time.time())
    # a forged event changes nothing; a failure made earlier arrives late; the authorisation comes three times
    payload, headers = authorised(intent, order["order_id"], created=now, event_id=f"evt_{uuid.uuid4().hex}")
    assert send(api, payload, {**headers, "Stripe-Signature": "t=1,v1=forged"}) == 400
    for _ in range(3):
        assert send(api, payload, headers) == 200
    failed, failed_headers = authorised(intent, order["order_id"], "payment_intent.payment_failed", created=now - 5)
    assert send(api, failed, failed_headers) == 200
    wait_status(api, guest_token, order["order_id"], "CONFIRMED")
    card = card_status(api, admin_token, order["order_id"], "captured")  # after the sale, not before
    assert card["intent_id"] == intent and card["action"] is None
    # mails are sent in the order their events came: an earlier test's burst may still be ahead of this one
    eventually(lambda: [m for m in mails_for(profile, order["order_id"]) if "confirmed" in m["subject"]],
               timeout=60, what="the confirmation")
    time.sleep(1)
    assert len([m for m in mails_for(profile, order["order_id"]) if "confirmed" in m["subject"]]) == 1
    assert stock_of(api, ticket["id"]) == 2


def test_a_card_authorised_after_the_hold_expired_and_the_tickets_went_is_cancelled(
        api, admin_token, guest_token, stack, bank_transfers):  # noqa: F811
    ticket = new_ticket_type(api, admin_token, price="30.00", stock=2)
    late = held_order(api, guest_token, ticket["id"], 2)
    intent = pay_by_card(api, guest_token, late["order_id"])
    let_deadline_pass(stack, late["order_id"])
    wait_status(api, guest_token, late["order_id"], "EXPIRED")
    held_order(api, admin_token, ticket["id"], 2)  # somebody else takes the tickets meanwhile
    assert send(api, *authorised(intent, late["order_id"])) == 200
    card = card_status(api, admin_token, late["order_id"], "cancelled")  # nothing charged
    assert "refunded" in card["note"] or "too few" in card["note"]
    order = api.get(f"/api/orders/{late['order_id']}", headers=bearer(guest_token)).json()
    assert order["status"] == "EXPIRED" and stock_of(api, ticket["id"]) == 0


def test_webhooks_sent_while_the_payment_service_is_killed_settle_every_order_once(
        api, admin_token, guest_token, stack, gateway, bank_transfers):  # noqa: F811
    ticket = new_ticket_type(api, admin_token, price="10.00", stock=20)
    orders = [held_order(api, guest_token, ticket["id"], 1) for _ in range(8)]
    intents = {o["order_id"]: pay_by_card(api, guest_token, o["order_id"]) for o in orders}
    events = [authorised(intent, order_id) for order_id, intent in intents.items()]

    def deliver(payload, headers):  # as Stripe does: again, until it is answered 2xx
        with httpx.Client(base_url=gateway, timeout=5) as client:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    if send(client, payload, headers) == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            raise AssertionError("a webhook was never accepted")

    senders = [threading.Thread(target=deliver, args=event) for event in events]
    for number, thread in enumerate(senders):
        thread.start()
        if number == 3:
            stack.supervisor.kill("payment-service")  # kill -9; the watchdog brings it back
    for thread in senders:
        thread.join()
    for payload, _ in events[:2]:  # and a few again after it is back (signed anew: the first may be stale)
        assert send(api, payload, signed(payload)) == 200
    for order in orders:
        wait_status(api, guest_token, order["order_id"], "CONFIRMED", timeout=60)
        card_status(api, admin_token, order["order_id"], "captured")
    assert stock_of(api, ticket["id"]) == 12


def test_a_paid_order_cancelled_is_refunded_through_its_provider(api, admin_token, guest_token,
                                                                 bank_transfers):  # noqa: F811
    ticket = new_ticket_type(api, admin_token, price="25.00", stock=4)
    # by card: captured at the sale, refunded at the cancellation
    carded = paid_by_card(api, admin_token, guest_token, ticket["id"], 1)
    cancel = api.post(f"/api/admin/orders/{carded['order_id']}/cancel", headers=bearer(admin_token),
                      json={"reason": "the act was cancelled"})
    assert cancel.status_code == 202, cancel.text
    wait_status(api, guest_token, carded["order_id"], "CANCELLED")
    card_status(api, admin_token, carded["order_id"], "refunded")
    given = api.get(f"/api/admin/payments/orders/{carded['order_id']}", headers=bearer(admin_token)).json()["refunds"]
    assert [(r["amount_cents"], r["reason"], r["status"]) for r in given] == [
        (2500, "cancelled: the act was cancelled", "done")]
    # by bank transfer: the refund goes into a SEPA file for the organiser's bank, to the account it came from
    wired = held_order(api, guest_token, ticket["id"], 2)
    statement = camt053_from(5000, wired["payment"]["reference"], "DE02120300000000202051", "Gus Guest")
    assert import_statement(api, admin_token, statement)["matched"] == 1
    wait_status(api, guest_token, wired["order_id"], "CONFIRMED")
    assert api.post(f"/api/admin/orders/{wired['order_id']}/cancel", headers=bearer(admin_token),
                    json={"reason": "the act was cancelled"}).status_code == 202
    wait_status(api, guest_token, wired["order_id"], "CANCELLED")
    owed = eventually(lambda: [r for r in api.get("/api/admin/payments/refunds", headers=bearer(admin_token)).json()
                               if r["order_id"] == wired["order_id"]], what="the refund to be due")
    assert owed[0]["amount_cents"] == 5000 and owed[0]["payer_iban"] == "DE02120300000000202051"
    sepa = api.post("/api/admin/payments/refunds/sepa", headers=bearer(admin_token))
    assert sepa.status_code == 200 and sepa.headers["content-type"] == "application/xml"
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    transfers = {t.find("p:PmtId/p:EndToEndId", ns).text: t
                 for t in ElementTree.fromstring(sepa.content).findall(".//p:CdtTrfTxInf", ns)}
    ours = transfers[wired["payment"]["reference"]]
    assert ours.find("p:Amt/p:InstdAmt", ns).text == "50.00"
    assert ours.find("p:CdtrAcct/p:Id/p:IBAN", ns).text == "DE02120300000000202051"
    assert not [r for r in api.get("/api/admin/payments/refunds", headers=bearer(admin_token)).json()
                if r["order_id"] == wired["order_id"]]  # sent: in no second file
    assert stock_of(api, ticket["id"]) == 4


def test_one_ticket_of_three_cancelled_gives_back_its_price_and_the_others_still_admit(api, admin_token, guest_token,
                                                                                       bank_transfers):  # noqa: F811
    ticket = new_ticket_type(api, admin_token, price="20.00", stock=5)
    order = paid_by_card(api, admin_token, guest_token, ticket["id"], 3)
    issued = eventually(lambda: (o := api.get(f"/api/orders/{order['order_id']}", headers=bearer(guest_token))
                                 .json())["tickets"] and o, what="the tickets")["tickets"]
    one = issued[1]["code"]
    wrong = api.post(f"/api/admin/orders/{order['order_id']}/cancel", headers=bearer(admin_token),
                     json={"reason": "x", "tickets": ["NOT-A-TICKET"]})
    assert wrong.status_code == 422 and "NOT-A-TICKET" in wrong.json()["detail"]
    assert api.post(f"/api/admin/orders/{order['order_id']}/cancel", headers=bearer(admin_token),
                    json={"reason": "one cannot come", "tickets": [one]}).status_code == 202

    def voided():
        now = api.get(f"/api/orders/{order['order_id']}", headers=bearer(guest_token)).json()
        return now if [t["status"] for t in now["tickets"]].count("void") == 1 else None
    now = eventually(voided, what="the one ticket to be void")
    assert now["status"] == "CONFIRMED" and next(t for t in now["tickets"] if t["code"] == one)["status"] == "void"
    assert stock_of(api, ticket["id"]) == 3  # its one back on sale

    def refunded():
        found = api.get(f"/api/admin/payments/orders/{order['order_id']}", headers=bearer(admin_token)).json()
        return found if found["refunds"] and found["refunds"][0]["status"] == "done" else None
    payment = eventually(refunded, what="its price to be refunded through Stripe")
    assert [r["amount_cents"] for r in payment["refunds"]] == [2000]  # one ticket's price, not the order's 60.00
    assert payment["card"]["status"] == "captured"  # the rest stays paid
    # a credit note corrects the invoice by that ticket's price, for the buyer and the organiser
    [note] = eventually(lambda: api.get(f"/api/orders/{order['order_id']}", headers=bearer(guest_token)).json()
                        ["credit_notes"], what="the credit note")
    assert note["number"].startswith("CN-") and note["amount_cents"] == 2000
    invoice = api.get(f"/api/orders/{order['order_id']}", headers=bearer(guest_token)).json()["invoice_number"]
    text = pdf_text(api, note["url"], guest_token)
    assert f"Credit note {note['number']}" in text and f"Corrects invoice {invoice}" in text
    assert "Total (VAT included): -€20.00" in text and one in text
    assert pdf_text(api, note["url"], admin_token) == text


@pytest.fixture
def cards_and_transfers(api, admin_token, bank_transfers):  # noqa: F811 (the fixture of test_holds)
    """Buyers may pay by card too: an order is held for payment_hold_minutes, unless its buyer chooses a
    transfer."""
    resp = api.patch("/api/admin/festival", headers=bearer(admin_token),
                     json={"card_payments": True, "payment_hold_minutes": 20})
    assert resp.status_code == 200 and resp.json()["card_payments"] is True, resp.text
    yield
    eventually(lambda: api.patch("/api/admin/festival", headers=bearer(admin_token),
                                 json={"card_payments": False}).status_code == 200, timeout=60, interval=1,
               what="the festival to take no cards again")


def test_a_card_hold_lasts_minutes_and_the_buyer_may_turn_it_into_a_transfer_in_the_browser(
        page, api, admin_token, guest_token, profile, cards_and_transfers):
    from test_browser import log_in
    ticket = new_ticket_type(api, admin_token, price="30.00", stock=5)
    order = held_order(api, guest_token, ticket["id"], 2)
    payment = order["payment"]
    assert payment["method"] == "card" and payment["iban"]
    due = datetime.fromisoformat(payment["due_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=19) < due - datetime.now(UTC) <= timedelta(minutes=20)
    # Stripe's script cannot come from js.stripe.com here: the page must say so, not hang
    page.route("https://js.stripe.com/**", lambda route: route.abort())
    log_in(page, "guest", "festflow")
    page.goto(f"/cart/orders/{order['order_id']}")
    pay = page.locator(".cart_pay")
    expect(pay).to_contain_text("Pay €60.00")
    assert "min" in pay.locator(".cart_countdown").inner_text()
    pay.get_by_role("button", name="Pay by card").click()
    expect(pay.locator("[data-card-error]")).to_contain_text("could not be loaded")
    assert card_of(api, admin_token, order["order_id"])["intent_id"].startswith("pi_")  # the intent at Stripe
    pay.get_by_role("button", name="Pay by bank transfer").click()
    expect(page.locator(".cart_pay")).to_contain_text("Pay €60.00 by bank transfer", timeout=15_000)
    expect(page.locator(".cart_pay")).to_contain_text("DE89 3704 0044 0532 0130 00")
    assert "days" in page.locator(".cart_countdown").inner_text()
    moved = api.get(f"/api/orders/{order['order_id']}", headers=bearer(guest_token)).json()["payment"]
    later = datetime.fromisoformat(moved["due_at"].replace("Z", "+00:00"))
    assert moved["method"] == "bank_transfer" and timedelta(days=4, hours=23) < later - datetime.now(UTC)
    assert moved["reference"] == payment["reference"] and stock_of(api, ticket["id"]) == 3
    eventually(lambda: len([m for m in mails_for(profile, order["order_id"]) if "please pay by" in m["subject"]]) == 2,
               what="a mail for the card hold and one for the transfer")
    again = api.post(f"/api/orders/{order['order_id']}/bank-transfer", headers=bearer(guest_token))
    assert again.status_code == 409 and "bank transfer already" in again.json()["detail"]
    # paid by transfer, it sells as any other
    import_statement(api, admin_token, camt053_from(6000, moved["reference"]))
    wait_status(api, guest_token, order["order_id"], "CONFIRMED")


def pdf_text(api, url: str, token: str) -> str:
    import io

    import pypdf
    resp = api.get(url, headers=bearer(token))
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/pdf", resp.text
    return pypdf.PdfReader(io.BytesIO(resp.content)).pages[0].extract_text()
