"""An order that must be paid, on the real stack: the festival takes bank transfers, so a checkout holds the
stock and the order awaits payment; a CAMT.053 statement with its reference confirms it (tickets, mail); the
deadline passing releases the stock exactly once (bell and mail); a payment after that reinstates the order
while the stock is free and is owed back when it is not. The deadline is days away: the tests move it into the
past in the inventory's database, as the passing of time would."""
import asyncio
import io
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pypdf
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from e2e_helpers import (
    bearer,
    eventually,
    mails_for,
    new_ticket_type,
    open_socket,
    place_order,
    run_async,
    stock_of,
    wait_status,
)
from festflow_contracts.payment_reference import is_valid, printed

pytestmark = pytest.mark.stack
IBAN, BIC, BENEFICIARY = "DE89370400440532013000", "COBADEFFXXX", "FestFlow Test Festival"


@pytest.fixture
def bank_transfers(api, admin_token):
    """The festival takes bank transfers for the test, and no payment again after it."""
    resp = api.patch("/api/admin/festival", headers=bearer(admin_token),
                     json={"iban": IBAN, "bic": BIC, "beneficiary": BENEFICIARY, "bank_transfer_days": 5})
    assert resp.status_code == 200, resp.text
    yield
    # (after a test that killed parts, the inventory may still be starting: as an organiser would, try again)
    eventually(lambda: api.patch("/api/admin/festival", headers=bearer(admin_token),
                                 json={"iban": "", "bic": ""}).status_code == 200, timeout=60, interval=1,
               what="the festival to take no payment again")


def camt053(amount_cents: int, text: str) -> bytes:
    """A CAMT.053 statement with one credit (a fresh bank entry id) of `amount_cents` whose text is `text`."""
    return camt053_from(amount_cents, text)


def camt053_from(amount_cents: int, text: str, iban: str = "", name: str = "Gus Guest") -> bytes:
    """The same, from the account `iban` of `name` (where a refund would go)."""
    entry = uuid.uuid4().hex[:16]
    account = f"<DbtrAcct><Id><IBAN>{iban}</IBAN></Id></DbtrAcct>" if iban else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>E2E-{entry}</MsgId><CreDtTm>2026-12-07T18:00:00</CreDtTm></GrpHdr>
<Stmt><Id>E2E-{entry}</Id><Acct><Id><IBAN>{IBAN}</IBAN></Id></Acct>
<Ntry><Amt Ccy="EUR">{amount_cents // 100}.{amount_cents % 100:02d}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-12-07</Dt></BookgDt><AcctSvcrRef>{entry}</AcctSvcrRef>
<NtryDtls><TxDtls><RltdPties><Dbtr><Nm>{name}</Nm></Dbtr>{account}</RltdPties><RmtInf><Ustrd>{text}</Ustrd></RmtInf>
</TxDtls></NtryDtls></Ntry></Stmt></BkToCstmrStmt></Document>""".encode()


def import_statement(api, admin_token, data: bytes) -> dict:
    """The organiser imports a statement (again after a 502/503: the payment service may be restarting)."""
    def imported():
        resp = api.post("/api/admin/payments/bank-statements", headers=bearer(admin_token),
                        files={"file": ("statement.xml", data, "application/xml")})
        assert resp.status_code in (200, 502, 503), resp.text
        return resp.json() if resp.status_code == 200 else None
    return eventually(imported, timeout=60, interval=1, what="the statement to be imported")


def held_order(api, token, ticket_id: str, quantity: int) -> dict:
    resp = place_order(api, token, [(ticket_id, quantity)])
    assert resp.status_code == 202, resp.text
    return wait_status(api, token, resp.json()["order_id"], "AWAITING_PAYMENT")


def let_deadline_pass(stack, order_id: str) -> None:
    """Time passes for this order: its deadline is now a second ago."""
    url = stack.env["inventory-service"]["DATABASE_URL"].replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
    engine = sa.create_engine(url)
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with engine.begin() as conn:
        moved = conn.execute(sa.text("UPDATE orders SET hold_until = :past WHERE order_id = :id "
                                     "AND status = 'AWAITING_PAYMENT'"), {"past": past, "id": order_id})
        assert moved.rowcount == 1
    engine.dispose()


def test_an_order_is_held_then_paid_by_a_camt053_statement_once(api, admin_token, guest_token, profile,
                                                                 bank_transfers):
    ticket = new_ticket_type(api, admin_token, price="20.00", stock=10)
    order = held_order(api, guest_token, ticket["id"], 2)
    payment = order["payment"]
    assert payment["method"] == "bank_transfer" and payment["amount_cents"] == 4000 and payment["currency"] == "EUR"
    assert (payment["iban"], payment["bic"], payment["beneficiary"]) == (IBAN, BIC, BENEFICIARY)
    assert is_valid(payment["reference"])
    due = datetime.fromisoformat(payment["due_at"].replace("Z", "+00:00"))
    assert timedelta(days=4, hours=23) < due - datetime.now(UTC) <= timedelta(days=5)
    assert stock_of(api, ticket["id"]) == 8 and order["tickets"] == []
    # the buyer is told how to pay
    how = eventually(lambda: [m for m in mails_for(profile, order["order_id"]) if "please pay by" in m["subject"]],
                     what="the mail that says how to pay")
    assert printed(payment["reference"]) in how[0]["body"]
    # the organiser imports the bank's statement: the reference as a person types it, in lower case and groups
    statement = camt053(4000, f"tickets {printed(payment['reference']).lower()} thank you")
    assert import_statement(api, admin_token, statement)["matched"] == 1
    confirmed = wait_status(api, guest_token, order["order_id"], "CONFIRMED")
    paid = eventually(lambda: (o := api.get(f"/api/orders/{order['order_id']}", headers=bearer(guest_token)).json())
                      ["tickets"] and o, what="the tickets of the paid order")
    assert len(paid["tickets"]) == 2 and confirmed["total_cents"] == 4000
    eventually(lambda: [m for m in mails_for(profile, order["order_id"]) if "confirmed" in m["subject"]],
               what="the confirmation with the tickets")
    # the same statement again pays nothing twice
    again = import_statement(api, admin_token, statement)
    assert again["duplicates"] == 1 and again["matched"] == 0
    time.sleep(1)
    assert stock_of(api, ticket["id"]) == 8
    assert len([m for m in mails_for(profile, order["order_id"]) if "confirmed" in m["subject"]]) == 1
    # the invoice, for the buyer and the organiser; the next sale has the next number
    text = invoice_text(api, paid["invoice_url"], guest_token)
    assert f"Invoice {paid['invoice_number']}" in text and "Total (VAT included): €40.00" in text
    assert invoice_text(api, paid["invoice_url"], admin_token) == text
    second = held_order(api, guest_token, ticket["id"], 1)
    import_statement(api, admin_token, camt053(2000, second["payment"]["reference"]))
    wait_status(api, guest_token, second["order_id"], "CONFIRMED")
    numbered = api.get(f"/api/orders/{second['order_id']}", headers=bearer(guest_token)).json()["invoice_number"]
    assert int(numbered.removeprefix("INV-")) == int(paid["invoice_number"].removeprefix("INV-")) + 1


def invoice_text(api, url: str, token: str) -> str:
    resp = api.get(url, headers=bearer(token))
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/pdf", resp.text[:200]
    return pypdf.PdfReader(io.BytesIO(resp.content)).pages[0].extract_text()


async def note_of_kind(ws, order_id: str, kind: str, timeout: float = 15) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            note = json.loads(await ws.recv())
            if note.get("order_id") == order_id and note.get("kind") == kind:
                return note


def test_an_unpaid_order_expires_once_and_a_late_payment_reinstates_it_while_the_stock_is_free(
        api, admin_token, guest_token, gateway, profile, stack, bank_transfers):
    ticket = new_ticket_type(api, admin_token, price="15.00", stock=5)
    order = held_order(api, guest_token, ticket["id"], 3)
    assert stock_of(api, ticket["id"]) == 2

    async def expire() -> tuple[dict, float]:
        async with open_socket(gateway, "/ws/notifications", guest_token) as ws:
            assert json.loads(await ws.recv())["kind"] == "hello"
            started = time.monotonic()
            await asyncio.to_thread(let_deadline_pass, stack, order["order_id"])
            note = await note_of_kind(ws, order["order_id"], "order.expired")
            return note, time.monotonic() - started

    note, seconds = run_async(expire())
    assert seconds < 5, f"released {seconds:.1f} s after its deadline"
    assert "back on sale" in note["message"]
    expired = wait_status(api, guest_token, order["order_id"], "EXPIRED")
    assert "not paid by its deadline" in expired["reason"]
    assert stock_of(api, ticket["id"]) == 5  # back exactly once
    eventually(lambda: [m for m in mails_for(profile, order["order_id"]) if "has expired" in m["subject"]],
               what="the mail that says the order expired")
    time.sleep(1.5)  # the expiry watch has looked again meanwhile: nothing more comes back
    assert stock_of(api, ticket["id"]) == 5
    # the transfer arrives late, while the tickets are still free: the order is reinstated
    assert import_statement(api, admin_token, camt053(4500, expired["payment"]["reference"]))["matched"] == 1
    wait_status(api, guest_token, order["order_id"], "CONFIRMED")
    assert stock_of(api, ticket["id"]) == 2


def test_a_late_payment_when_the_tickets_are_gone_is_owed_back_and_sells_nothing(
        api, admin_token, guest_token, profile, stack, bank_transfers):
    ticket = new_ticket_type(api, admin_token, price="10.00", stock=2)
    late = held_order(api, guest_token, ticket["id"], 2)
    let_deadline_pass(stack, late["order_id"])
    wait_status(api, guest_token, late["order_id"], "EXPIRED")
    held_order(api, admin_token, ticket["id"], 2)  # somebody else takes them meanwhile
    assert stock_of(api, ticket["id"]) == 0
    assert import_statement(api, admin_token, camt053(2000, late["payment"]["reference"]))["matched"] == 1

    def owed_back():
        order = api.get(f"/api/orders/{late['order_id']}", headers=bearer(guest_token)).json()
        return order if (order.get("payment") or {}).get("refund_due") else None
    order = eventually(owed_back, what="the payment to be marked for refund")
    assert order["status"] == "EXPIRED" and "refunded" in order["payment"]["refund_due"]
    assert stock_of(api, ticket["id"]) == 0
    eventually(lambda: [m for m in mails_for(profile, late["order_id"]) if "will be refunded" in m["subject"]],
               what="the mail that says the payment goes back")


def test_a_buyer_abandons_an_unpaid_order_and_its_tickets_are_back_at_once(api, admin_token, guest_token,
                                                                            bank_transfers):
    ticket = new_ticket_type(api, admin_token, price="12.00", stock=4)
    order = held_order(api, guest_token, ticket["id"], 4)
    assert api.post(f"/api/orders/{order['order_id']}/abandon", headers=bearer(admin_token)).status_code == 404
    assert api.post(f"/api/orders/{order['order_id']}/abandon", headers=bearer(guest_token)).status_code == 202
    cancelled = wait_status(api, guest_token, order["order_id"], "CANCELLED")
    assert "abandoned" in cancelled["reason"] and stock_of(api, ticket["id"]) == 4
    again = api.post(f"/api/orders/{order['order_id']}/abandon", headers=bearer(guest_token))
    assert again.status_code == 409 and "only an unpaid order" in again.json()["detail"]


def test_a_buyer_checks_out_in_the_browser_and_sees_how_to_pay(page, api, admin_token, bank_transfers):
    from test_browser import log_in
    from test_cart_browser import add_to_cart
    ticket = new_ticket_type(api, admin_token, price="25.00", stock=6)
    log_in(page, "guest", "festflow")
    add_to_cart(page, ticket["id"], 1)
    page.get_by_role("button", name="CHECKOUT").click()
    last = page.locator(".cart_last-order")
    expect(last).to_have_attribute("data-status", "AWAITING_PAYMENT")
    order_id = last.get_attribute("data-order-id")
    last.get_by_role("link", name="Pay now").click()
    expect(page).to_have_url(re.compile(f"/cart/orders/{order_id}$"))
    pay = page.locator(".cart_pay")
    expect(pay).to_contain_text("Pay €25.00 by bank transfer")
    expect(pay).to_contain_text("DE89 3704 0044 0532 0130 00")
    expect(pay.locator("svg")).to_be_visible()  # the EPC QR code
    first = pay.locator(".cart_countdown").inner_text()
    assert "days" in first and "left" in first
    page.once("dialog", lambda dialog: dialog.accept())
    pay.get_by_role("button", name="Cancel this order").click()
    # the page says so (the bell's news of the cancellation may refresh it before the notice is read)
    expect(page.locator("#order-detail .cart_status")).to_have_text("CANCELLED", timeout=15_000)
    expect(page.locator("#order-detail")).to_contain_text("abandoned by the buyer")
    expect(page.locator(".cart_pay")).to_have_count(0)


def test_the_organiser_marks_an_order_paid_at_the_box_office_from_its_page(page, api, admin_token, guest_token,
                                                                           bank_transfers):
    from test_browser import log_in
    ticket = new_ticket_type(api, admin_token, price="18.00", stock=3)
    order = held_order(api, guest_token, ticket["id"], 2)
    log_in(page, "admin", "admin123")
    page.goto(f"/admin/orders/{order['order_id']}")
    expect(page.locator(".admin_order-payment")).to_contain_text("awaited by bank transfer until")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Mark paid").click()
    expect(page.locator("#admin-order")).to_have_attribute("data-status", "CONFIRMED", timeout=30_000)
    expect(page.locator(".admin_order-tickets tbody tr")).to_have_count(2, timeout=15_000)
    paid = api.get(f"/api/orders/{order['order_id']}", headers=bearer(guest_token)).json()
    assert paid["status"] == "CONFIRMED" and paid["invoice_number"]
    again = api.post(f"/api/admin/payments/orders/{order['order_id']}/paid", headers=bearer(admin_token))
    assert again.status_code == 409 and "paid already" in again.json()["detail"]
