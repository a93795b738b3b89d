"""Real tickets on the real stack: issued from the sold event, carried in the mail (HTML with QR codes and
a PDF), shown on the order page, and checked in once at the gate."""
import io
import uuid

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from test_browser import log_in

from e2e_helpers import (
    bearer,
    eventually,
    login,
    mails_for,
    new_buyer,
    new_ticket_type,
    place_order,
    run_async,
    wait_status,
)

pytestmark = pytest.mark.stack


def staff_token(api, admin_token) -> str:
    name = f"gate-{uuid.uuid4().hex[:6]}"
    created = api.post("/api/admin/users", headers=bearer(admin_token), json={"users": [
        {"username": name, "email": f"{name}@festflow.test", "password": "gate-staff-pass", "role": "staff"}]})
    assert created.status_code == 201, created.text
    return login(api, name, "gate-staff-pass")


def bought(api, admin_token, quantity=3):
    """A new buyer's confirmed order of `quantity` tickets, once its tickets are issued."""
    name, password = new_buyer(api, admin_token)
    token = login(api, name, password)
    ticket = new_ticket_type(api, admin_token, stock=20)
    order_id = place_order(api, token, [(ticket["id"], quantity)]).json()["order_id"]
    wait_status(api, token, order_id, "CONFIRMED")
    def issued():
        order = api.get(f"/api/orders/{order_id}", headers=bearer(token)).json()
        return order if order["tickets"] else None
    order = eventually(issued, timeout=30, what="the order's tickets")
    return name, password, token, ticket, order


def test_three_tickets_sold_are_three_signed_tickets_in_the_order_and_the_mail(api, admin_token, profile):
    _, _, token, ticket, order = bought(api, admin_token, 3)
    tickets = order["tickets"]
    assert len(tickets) == 3 and len({t["code"] for t in tickets}) == 3
    assert all(t["status"] == "valid" and t["ticket_id"] == ticket["id"] and t["name"] == ticket["name"]
               for t in tickets)
    svg = api.get(tickets[0]["qr_url"], headers=bearer(token))
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert httpx.get(f"{api.base_url}{tickets[0]['qr_url']}").status_code == 401  # not without the buyer's token
    other = login(httpx.Client(base_url=api.base_url), *new_buyer(api, admin_token))
    assert httpx.get(f"{api.base_url}{tickets[0]['qr_url']}", headers=bearer(other)).status_code == 404

    [mail] = eventually(lambda: mails_for(profile, order["order_id"]), timeout=30, what="the tickets' mail")
    raw = httpx.get(profile.url("mail_http", f"/api/messages/{mail['id']}/raw"), timeout=10).content
    import email
    import email.policy
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_body(preferencelist=("html",)) is not None
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    payloads = [zxingcpp.read_barcodes(Image.open(io.BytesIO(p.get_content())))[0].text for p in images]
    assert len(payloads) == 3
    [pdf] = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(PdfReader(io.BytesIO(pdf.get_content())).pages) == 3

    staff = staff_token(api, admin_token)
    codes = set()
    for payload in payloads:  # each QR code is a signed payload the gate accepts, naming its own ticket
        admitted = api.post("/api/checkin/scan", headers=bearer(staff), json={"code": payload, "gate": "North"})
        assert admitted.status_code == 200 and admitted.json()["result"] == "admitted", admitted.text
        codes.add(admitted.json()["code"])
    assert codes == {t["code"] for t in tickets}
    def all_used():
        tickets = api.get(f"/api/orders/{order['order_id']}", headers=bearer(token)).json()["tickets"]
        return tickets if all(t["status"] == "used" for t in tickets) else None
    assert len(eventually(all_used, what="the order to show its tickets used")) == 3


def test_a_ticket_admits_once_however_many_gates_scan_it_and_forgeries_are_refused(api, admin_token, guest_token):
    _, _, token, _, order = bought(api, admin_token, 1)
    [ticket] = order["tickets"]
    payload = api.get(f"/api/tickets/{ticket['code']}", headers=bearer(token)).json()["qr"]
    staff = staff_token(api, admin_token)
    assert api.post("/api/checkin/scan", headers=bearer(guest_token),
                    json={"code": payload, "gate": "North"}).status_code == 403  # buyers cannot check in

    async def scans():
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
            import asyncio
            return await asyncio.gather(*(client.post("/api/checkin/scan", headers=bearer(staff),
                                                      json={"code": payload, "gate": f"Gate {n % 4}"})
                                          for n in range(50)))
    results = run_async(scans())
    assert sorted(r.status_code for r in results) == [200] + [409] * 49
    used = next(r.json() for r in results if r.status_code == 409)
    assert used["result"] == "already_used" and used["gate"].startswith("Gate ") and used["at"]

    prefix, kid, body, signature = payload.split(".")
    import base64
    changed = base64.urlsafe_b64encode(base64.urlsafe_b64decode(body + "==").replace(b"|", b"X|", 1)).rstrip(b"=")
    forged = api.post("/api/checkin/scan", headers=bearer(staff),
                      json={"code": f"{prefix}.{kid}.{changed.decode()}.{signature}", "gate": "North"})
    assert forged.status_code == 422 and forged.json()["result"] == "forged"
    assert api.post("/api/checkin/scan", headers=bearer(staff),
                    json={"code": "ZZZZZZZZZZZZZZZZZZZZ", "gate": "North"}).status_code == 404


def test_a_redelivered_sale_issues_no_second_set_of_tickets_and_no_second_mail(api, admin_token, profile):
    """The order flow's duplicate-event test re-sends a sold event; here the same holds for the tickets."""
    from aiokafka import AIOKafkaProducer

    from festflow_contracts import events
    from festflow_contracts.channels import ORDER_EVENTS_TOPIC
    _, _, token, _, order = bought(api, admin_token, 2)
    told = order_events(profile, order["order_id"])
    sold = next(e for e in told if e["type"] == events.ORDER_CONFIRMED)  # the new name, end to end
    assert not [e["type"] for e in told if e["type"] in events.LEGACY_TYPES]  # and never the old one

    async def resend():
        producer = AIOKafkaProducer(bootstrap_servers=profile.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(ORDER_EVENTS_TOPIC, events.encode(sold), key=order["order_id"].encode())
            await producer.send_and_wait(ORDER_EVENTS_TOPIC, events.encode({**sold, "id": str(uuid.uuid4())}),
                                         key=order["order_id"].encode())
        finally:
            await producer.stop()
    run_async(resend())
    eventually(lambda: len(mails_for(profile, order["order_id"])) == 1, what="the one mail")
    import time
    time.sleep(3)  # time for the re-sent events to be consumed
    again = api.get(f"/api/orders/{order['order_id']}", headers=bearer(token)).json()
    assert [t["code"] for t in again["tickets"]] == [t["code"] for t in order["tickets"]]
    assert len(mails_for(profile, order["order_id"])) == 1


def order_events(profile, order_id):
    """Every event about this order on the order events topic, as it was sent."""
    from aiokafka import AIOKafkaConsumer

    from festflow_contracts import events
    from festflow_contracts.channels import ORDER_EVENTS_TOPIC

    async def read():
        consumer = AIOKafkaConsumer(ORDER_EVENTS_TOPIC, bootstrap_servers=profile.kafka_bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        found = []
        try:
            quiet = 0
            while quiet < 2:
                batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
                quiet = 0 if batch else quiet + 1
                found += [e for records in batch.values() for r in records
                          if (e := events.decode(r.value))["data"].get("order_id") == order_id]
        finally:
            await consumer.stop()
        return found
    return run_async(read())


def test_the_order_page_shows_each_ticket_and_a_ticket_page_is_scannable(page: Page, api, admin_token):
    name, password, token, ticket, order = bought(api, admin_token, 2)
    log_in(page, name, password)
    page.goto("/cart/my-orders")  # each ticket's QR code, small, linking to its page
    expect(page.locator(f'#my-orders tr[data-order-id="{order["order_id"]}"] .cart_order-qrs a')).to_have_count(2)
    page.goto(f"/cart/orders/{order['order_id']}")
    cards = page.locator(".cart_ticket")
    expect(cards).to_have_count(2)
    first = order["tickets"][0]
    page.get_by_role("link", name=f"Open ticket {first['code']}").click()
    expect(page).to_have_url(f"/cart/tickets/{first['code']}")
    expect(page.locator(".cart_ticket-code")).to_have_text(first["code"])
    image = page.locator(".cart_ticket-qr")
    expect(image).to_be_visible()
    shot = Image.open(io.BytesIO(image.screenshot()))
    # what a gate's camera reads from the phone: the ticket's signed payload (zxing may find the one code twice)
    signed = api.get(f"/api/tickets/{first['code']}", headers=bearer(token)).json()["qr"]
    assert signed.startswith("FF1.") and {found.text for found in zxingcpp.read_barcodes(shot)} == {signed}
    page.get_by_label("Holder's name").fill("Grace Hopper")
    page.get_by_role("button", name="Save name").click()
    expect(page.locator("#ticket-detail .cart_message")).to_have_text("Saved.")
    expect(page.get_by_label("Holder's name")).to_have_value("Grace Hopper")


def test_a_cancelled_order_puts_its_stock_back_voids_its_tickets_and_tells_the_buyer(api, admin_token, profile):
    _, _, token, ticket, order = bought(api, admin_token, 2)
    stock_before = {t["id"]: t["stock"] for t in api.get("/api/tickets").json()}[ticket["id"]]
    payload = api.get(f"/api/tickets/{order['tickets'][0]['code']}", headers=bearer(token)).json()["qr"]
    auth = bearer(admin_token)
    assert api.post(f"/api/admin/orders/{order['order_id']}/cancel", headers=bearer(token)).status_code == 403
    cancel = api.post(f"/api/admin/orders/{order['order_id']}/cancel", headers=auth, json={"reason": "event moved"})
    assert cancel.status_code == 202 and cancel.json()["cancellation"] == "requested"

    def cancelled():
        found = api.get(f"/api/orders/{order['order_id']}", headers=bearer(token)).json()
        return found if found["status"] == "CANCELLED" and {t["status"] for t in found["tickets"]} == {"void"} \
            else None
    after = eventually(cancelled, timeout=30, what="the order cancelled and its tickets void")
    assert after["reason"] == "event moved"
    assert {t["id"]: t["stock"] for t in api.get("/api/tickets").json()}[ticket["id"]] == stock_before + 2
    staff = staff_token(api, admin_token)
    void = api.post("/api/checkin/scan", headers=bearer(staff), json={"code": payload, "gate": "North"})
    assert void.status_code == 410 and void.json()["result"] == "void"
    mails = eventually(lambda: (m := mails_for(profile, order["order_id"])) and len(m) == 2 and m, timeout=30,
                       what="the cancellation mail")
    assert "was cancelled" in mails[1]["subject"] and "event moved" in mails[1]["body"]
    again = api.post(f"/api/admin/orders/{order['order_id']}/cancel", headers=auth)
    assert again.status_code == 409 and "CANCELLED" in again.json()["detail"]


def test_an_organiser_finds_an_order_resends_its_tickets_and_exports_csv(api, admin_token, profile):
    name, _, token, ticket, order = bought(api, admin_token, 1)
    auth = bearer(admin_token)
    found = api.get("/api/admin/orders", headers=auth, params={"q": name}).json()
    assert [o["order_id"] for o in found] == [order["order_id"]] and found[0]["email"] == f"{name}@festflow.test"
    assert api.get("/api/admin/orders", headers=auth, params={"q": order["order_id"][:8]}).json()[0]["username"] == name
    assert api.get("/api/admin/orders", headers=bearer(token)).status_code == 403
    resent = api.post(f"/api/checkin/orders/{order['order_id']}/resend", headers=auth)
    assert resent.status_code == 202
    mails = eventually(lambda: (m := mails_for(profile, order["order_id"])) and len(m) == 2 and m, timeout=30,
                       what="the tickets sent again")
    assert "(sent again)" in mails[1]["subject"]
    orders_csv = api.get("/api/admin/orders.csv", headers=auth, params={"q": name})
    assert orders_csv.headers["content-type"].startswith("text/csv")
    assert orders_csv.text.splitlines()[0].startswith("order_id,username,email,status")
    assert order["order_id"] in orders_csv.text and f"1 x {ticket['name']}" in orders_csv.text
    attendees = api.get("/api/checkin/attendees.csv", headers=auth)
    assert attendees.status_code == 200 and order["tickets"][0]["code"] in attendees.text
    assert api.get("/api/checkin/attendees.csv", headers=bearer(token)).status_code == 403


def test_the_organiser_cancels_an_order_from_its_page(page: Page, api, admin_token):
    _, _, token, _, order = bought(api, admin_token, 1)
    log_in(page, "admin", "admin123")
    page.goto("/admin/orders")
    page.get_by_label("Order number, buyer or email").fill(order["order_id"][:8])
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=f"Order {order['order_id'][:8]}").click()
    expect(page).to_have_url(f"/admin/orders/{order['order_id']}")
    expect(page.locator(".admin_order-tickets tbody tr")).to_have_count(1)
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_label("Reason (the buyer reads it)").fill("sold by mistake")
    page.get_by_role("button", name="Cancel order").click()
    expect(page.locator("#admin-order")).to_have_attribute("data-status", "CANCELLED", timeout=30_000)
    expect(page.locator(".admin_order-tickets [data-status]")).to_have_attribute("data-status", "void")
    assert api.get(f"/api/orders/{order['order_id']}", headers=bearer(token)).json()["reason"] == "sold by mistake"
