"""mf-cart's fragments and actions, with the order API replaced by an in-process fake (unit level)."""
import json
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from jose import jwt

from festflow_contracts.tokens import AUDIENCE, ISSUER, generate_keypair
from festflow_runtime.fragment_app import OfflineEvents
from mf_cart.main import create_app
from mf_cart.settings import Settings

TICKETS = [{"id": "vip", "name": "VIP Weekend", "price": "249.00", "price_cents": 24900, "stock": 5}]


class FakeOrderApi:
    """Just enough of /api/cart and /api/orders: one cart per caller (account or token)."""

    def __init__(self):
        self.carts: dict[str, dict] = {}
        self.checkouts: list[tuple[str, dict]] = []
        self.checkout_status = 202
        self.checkout_refusal = "ticket catalog unavailable"
        self.down = False
        self.orders: dict[str, dict] = {}
        self.abandoned: list[str] = []
        self.transfers: list[str] = []
        self.room: dict = {"enabled": False}
        self.me: dict = {"state": "not_joined"}
        self.joined = 0
        self.pass_headers: list[str | None] = []
        self.card_answer: tuple[int, dict] = (200, {"client_secret": "pi_1_secret_2", "publishable_key": "pk_test_x",
                                                    "amount_cents": 49800, "currency": "EUR"})

    def _owner(self, request: httpx.Request) -> str | None:
        if "authorization" in request.headers:
            return "guest"
        return request.headers.get("x-cart-token")

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("refused")
        path = request.url.path
        if path == "/api/tickets":
            return httpx.Response(200, json=TICKETS)
        owner = self._owner(request)
        if path.startswith("/api/cart") and owner is None:
            return httpx.Response(401, json={"detail": "log in"})
        cart = self.carts.setdefault(owner, {"version": 0, "items": [], "notice": None, "last_order": None})
        body = json.loads(request.content) if request.content else {}
        if path == "/api/cart" and request.method == "GET":
            return httpx.Response(200, json=cart)
        if path == "/api/cart/items" and request.method == "POST":
            if body["quantity"] > 10:
                return httpx.Response(422, json={"detail": "At most 10 of one ticket per order."})
            cart["items"].append({"ticket_id": body["ticket_id"], "name": "VIP Weekend",
                                  "quantity": body["quantity"]})
            cart["version"] += 1
            return httpx.Response(200, json=cart)
        if path.startswith("/api/cart/items/") and request.method == "PUT":
            if not 0 <= body["quantity"] <= 10:
                return httpx.Response(422, json={"detail": "Quantity must be between 1 and 10."})
            cart["items"][0]["quantity"] = body["quantity"]
            cart["version"] += 1
            return httpx.Response(200, json=cart)
        if path.startswith("/api/orders/") and path.endswith("/abandon") and request.method == "POST":
            order = self.orders[path.split("/")[3]]
            if order["status"] != "AWAITING_PAYMENT":
                return httpx.Response(409, json={"detail": f"this order is {order['status']}: there is nothing to "
                                                           "abandon (only an unpaid order can be)"})
            self.abandoned.append(order["order_id"])
            return httpx.Response(202, json={"order_id": order["order_id"], "cancellation": "requested"})
        if path.startswith("/api/orders/") and path.endswith("/bank-transfer") and request.method == "POST":
            order = self.orders[path.split("/")[3]]
            if order["payment"]["method"] != "card":
                return httpx.Response(409, json={"detail": "this order is paid by bank transfer already"})
            self.transfers.append(order["order_id"])
            return httpx.Response(202, json={"order_id": order["order_id"], "method": "bank_transfer"})
        if path == "/api/queue":
            return httpx.Response(200, json=self.room)
        if path == "/api/queue/me":
            return httpx.Response(200, json=self.me)
        if path == "/api/queue/join":
            self.joined += 1
            self.me = {"state": "prequeue", "sale_starts_at": self.room["sale_starts_at"]}
            return httpx.Response(200, json=self.me)
        if path.startswith("/api/payments/orders/") and path.endswith("/card") and request.method == "POST":
            return httpx.Response(self.card_answer[0], json=self.card_answer[1])
        if path.startswith("/api/orders/") and path.split("/")[3] in self.orders:
            return httpx.Response(200, json=self.orders[path.split("/")[3]])
        if path == "/api/cart/checkout":
            self.pass_headers.append(request.headers.get("x-waiting-room-pass"))
            self.checkouts.append((owner, body))
            if self.checkout_status != 202:
                return httpx.Response(self.checkout_status, json={"detail": self.checkout_refusal})
            cart["items"], cart["version"] = [], cart["version"] + 1
            cart["last_order"] = {"order_id": "12345678-aaaa", "status": "PENDING", "reason": None}
            return httpx.Response(202, json={"order_id": "12345678-aaaa", "status": "PENDING"})
        return httpx.Response(404, json={"detail": "not found"})


@pytest.fixture
def setup():
    private, public = generate_keypair()
    fake = FakeOrderApi()
    app = create_app(Settings(jwt_public_key=public), order_api_transport=httpx.MockTransport(fake),
                     subscribe=OfflineEvents())
    with TestClient(app) as client:
        yield client, fake, private


def _login(client, private):
    token = jwt.encode({"sub": "guest", "role": "client", "iss": ISSUER, "aud": AUDIENCE,
                        "exp": int(time.time()) + 60}, private, algorithm="RS256")
    client.cookies.set("festflow_token", token)


def test_an_anonymous_add_gets_a_cart_token_and_shows_the_line_and_total(setup):
    client, fake, _ = setup
    resp = client.post("/cart/items", data={"ticket_id": "vip", "quantity": "2"})
    assert resp.headers["HX-Trigger"] == "cart:updated"
    assert "Added 2 × VIP Weekend." in resp.text and 'data-role="total">498.00' in resp.text
    token = client.cookies.get("festflow_cart")
    assert token in fake.carts and fake.carts[token]["items"][0]["quantity"] == 2
    assert "Log in</a> to check out." in resp.text


def test_rendering_never_writes_the_cart(setup):
    client, fake, private = setup
    _login(client, private)
    client.post("/cart/items", data={"ticket_id": "vip", "quantity": "2"})
    version = fake.carts["guest"]["version"]
    for _ in range(3):
        client.get("/cart/fragments/v1/cart")
    assert fake.carts["guest"]["version"] == version


@pytest.mark.parametrize("typed", ["-1", "11", "two", ""])
def test_a_bad_quantity_gets_a_message_beside_its_line_and_changes_nothing(setup, typed):
    client, fake, private = setup
    _login(client, private)
    client.post("/cart/items", data={"ticket_id": "vip", "quantity": "2"})
    resp = client.post("/cart/items/vip/quantity", data={"quantity": typed})
    assert 'class="cart_line-error"' in resp.text and 'aria-invalid="true"' in resp.text
    assert 'value="2"' in resp.text and 'data-role="total">498.00' in resp.text  # box and total agree
    assert fake.carts["guest"]["items"][0]["quantity"] == 2


def test_bad_add_quantity_and_refusals_give_messages(setup):
    client, _, _ = setup
    assert "whole number" in client.post("/cart/items", data={"ticket_id": "vip", "quantity": "two"}).text
    assert "At most 10" in client.post("/cart/items", data={"ticket_id": "vip", "quantity": "11"}).text


def test_anonymous_checkout_asks_to_log_in(setup):
    client, fake, _ = setup
    client.post("/cart/items", data={"ticket_id": "vip", "quantity": "1"})
    assert "Please log in to check out." in client.post("/cart/checkout", data={"version": "1"}).text
    assert fake.checkouts == []


def test_checkout_names_the_version_shown_and_shows_the_outcome(setup):
    client, fake, private = setup
    _login(client, private)
    page = client.post("/cart/items", data={"ticket_id": "vip", "quantity": "2"}).text
    assert '"version": "1"' in page
    resp = client.post("/cart/checkout", data={"version": "1"})
    assert resp.headers["HX-Trigger"] == "order:placed"
    assert fake.checkouts == [("guest", {"version": 1})]
    assert "Order 12345678 placed: waiting for confirmation." in resp.text
    assert "Your cart is empty." in resp.text and 'data-status="PENDING"' in resp.text
    assert 'data-focus="true"' in resp.text


def test_a_failed_checkout_says_why_and_keeps_the_cart(setup):
    client, fake, private = setup
    _login(client, private)
    fake.checkout_status = 503
    client.post("/cart/items", data={"ticket_id": "vip", "quantity": "1"})
    resp = client.post("/cart/checkout", data={"version": "1"})
    assert "Checkout failed: ticket catalog unavailable" in resp.text and "VIP Weekend" in resp.text


def test_an_unreachable_order_api_is_said_plainly(setup):
    client, fake, private = setup
    _login(client, private)
    client.post("/cart/items", data={"ticket_id": "vip", "quantity": "1"})
    fake.down = True
    assert "could not reach the order service" in client.post("/cart/checkout", data={"version": "1"}).text
    assert "cannot be loaded right now" in client.get("/cart/fragments/v1/cart").text


def awaiting_payment(order_id="0f0e0d0c-1111-2222-3333-444455556666", **payment):
    return {"order_id": order_id, "status": "AWAITING_PAYMENT", "reason": None, "total": "498.00",
            "total_cents": 49800, "created_at": "2026-12-07T10:00:00.000Z", "updated_at": "2026-12-07T10:00:01.000Z",
            "tickets": [], "items": [{"ticket_id": "vip", "name": "VIP Weekend", "quantity": 2,
                                      "unit_price_cents": 24900}],
            "payment": {"method": "bank_transfer", "amount_cents": 49800, "currency": "EUR",
                        "due_at": "2099-12-12T10:00:00.000Z", "reference": "RF18539007547034",
                        "iban": "DE89370400440532013000", "bic": "COBADEFFXXX",
                        "beneficiary": "FestFlow Summer Festival"} | payment}


def test_an_order_awaiting_payment_shows_how_to_pay_it_with_its_epc_qr_code_and_a_countdown(setup):
    client, fake, private = setup
    _login(client, private)
    order = fake.orders["0f0e0d0c-1111-2222-3333-444455556666"] = awaiting_payment()
    html = client.get(f"/cart/fragments/v1/order/{order['order_id']}").text
    assert "Pay €498.00 by bank transfer" in html and "DE89 3704 0044 0532 0130 00" in html
    assert "RF18 5390 0754 7034" in html and "COBADEFFXXX" in html and "FestFlow Summer Festival" in html
    assert '<svg' in html and "EPC QR code" in html and 'data-countdown="2099-12-12T10:00:00.000Z"' in html
    assert "days" in html and "left" in html and "Total (to pay)" in html and "AWAITING PAYMENT" in html
    # without the holder's name no QR code (a bank would warn of a name that does not match)
    order["payment"]["beneficiary"] = ""
    assert "<svg" not in client.get(f"/cart/fragments/v1/order/{order['order_id']}").text


def test_a_buyer_abandons_an_unpaid_order_and_is_told_or_told_why_not(setup):
    client, fake, private = setup
    _login(client, private)
    order = fake.orders["0f0e0d0c-1111-2222-3333-444455556666"] = awaiting_payment()
    answer = client.post(f"/cart/orders/{order['order_id']}/abandon", headers={"HX-Request": "true"})
    assert fake.abandoned == [order["order_id"]] and "tickets are going back on sale" in answer.text
    assert "Pay €" not in answer.text and "every 1s" in answer.text  # no more paying; it looks until it is done
    order["status"] = "CONFIRMED"
    refused = client.post(f"/cart/orders/{order['order_id']}/abandon", headers={"HX-Request": "true"})
    assert "only an unpaid order can be" in refused.text and len(fake.abandoned) == 1
    order |= {"invoice_number": "INV-000042", "invoice_url": f"/api/orders/{order['order_id']}/invoice.pdf"}
    paid = client.get(f"/cart/fragments/v1/order/{order['order_id']}").text
    assert f'href="/api/orders/{order["order_id"]}/invoice.pdf"' in paid and "Invoice INV-000042 (PDF)" in paid
    plain = client.post(f"/cart/orders/{order['order_id']}/abandon", follow_redirects=False)  # no script
    assert plain.status_code == 303 and plain.headers["location"] == f"/cart/orders/{order['order_id']}"


def test_a_card_hold_offers_the_card_form_or_a_bank_transfer_instead(setup):
    client, fake, private = setup
    _login(client, private)
    order = fake.orders["0f0e0d0c-1111-2222-3333-444455556666"] = awaiting_payment(method="card")
    html = client.get(f"/cart/fragments/v1/order/{order['order_id']}").text
    assert "Pay €498.00</h2>" in html and "Pay by card" in html and "Pay by bank transfer" in html
    assert "DE89 3704" not in html and "<svg" not in html  # no account to pay into until a transfer is chosen
    assert 'data-countdown="2099-12-12T10:00:00.000Z"' in html
    card = client.post(f"/cart/orders/{order['order_id']}/card", headers={"HX-Request": "true"}).text
    assert 'data-client-secret="pi_1_secret_2"' in card and 'data-stripe-key="pk_test_x"' in card
    assert f'data-return-url="/cart/orders/{order["order_id"]}"' in card and "Pay €498.00" in card
    fake.card_answer = (409, {"detail": "the time to pay this order is over"})
    refused = client.post(f"/cart/orders/{order['order_id']}/card", headers={"HX-Request": "true"}).text
    assert "the time to pay this order is over" in refused and 'role="alert"' in refused and "Try again" in refused
    switched = client.post(f"/cart/orders/{order['order_id']}/bank-transfer", headers={"HX-Request": "true"}).text
    assert fake.transfers == [order["order_id"]] and "A bank transfer it is" in switched
    assert "every 1s" in switched and "Pay by card" not in switched  # it looks again until the account is there
    order["payment"]["method"] = "bank_transfer"
    shown = client.get(f"/cart/fragments/v1/order/{order['order_id']}").text
    assert "Pay €498.00 by bank transfer" in shown and "DE89 3704 0044 0532 0130 00" in shown
    again = client.post(f"/cart/orders/{order['order_id']}/bank-transfer", headers={"HX-Request": "true"}).text
    assert "paid by bank transfer already" in again and len(fake.transfers) == 1
    # cards alone: no transfer to choose
    order["payment"] |= {"method": "card", "iban": ""}
    assert "Pay by bank transfer" not in client.get(f"/cart/fragments/v1/order/{order['order_id']}").text


ROOM = {"enabled": True, "prequeue_opens_at": "2026-12-07T09:00:00.000Z",
        "sale_starts_at": "2099-12-07T10:00:00.000Z", "commitment": "ab" * 32, "seed": None,
        "derivation": "join ids sorted by their HMAC", "sold_out": False}


def test_the_waiting_room_takes_a_place_shows_it_and_sends_the_pass_with_the_checkout(setup):
    client, fake, private = setup
    assert "no waiting room now" in client.get("/cart/fragments/v1/waiting-room").text
    fake.room = ROOM
    assert "Log in</a> to take your place" in client.get("/cart/fragments/v1/waiting-room").text
    _login(client, private)
    html = client.get("/cart/fragments/v1/waiting-room").text
    assert "Join the waiting room" in html and "drawn at random" in html and "ab" * 32 in html
    joined = client.post("/cart/waiting-room/join", headers={"HX-Request": "true"}).text
    assert fake.joined == 1 and "You are in." in joined and 'data-countdown="2099-12-07T10:00:00.000Z"' in joined
    assert 'hx-trigger="every 5s"' in joined and 'aria-live="polite"' in joined
    fake.me = {"state": "waiting", "position": 42, "ahead": 41, "eta_seconds": 3}
    waiting = client.get("/cart/fragments/v1/waiting-room").text
    assert 'Your place: <strong data-role="place">42</strong>' in waiting and "41 buyers are ahead of you" in waiting
    assert 'data-stream="/api/queue/me/events"' in waiting  # cart.js hears the place live
    assert 'hx-trigger="every 3s"' in waiting
    fake.me = {"state": "sold_out", "position": 42}
    sold_out = client.get("/cart/fragments/v1/waiting-room").text
    assert "Sold out." in sold_out and "your place 42 is kept" in sold_out
    fake.me = {"state": "admitted", "position": 42, "pass": "payload.signature", "pass_expires": int(time.time()) + 600}
    turn = client.get("/cart/fragments/v1/waiting-room").text
    assert "It&#39;s your turn!" in turn or "It's your turn!" in turn
    go = client.post("/cart/waiting-room/checkout", follow_redirects=False)
    assert go.status_code == 303 and go.headers["location"] == "/#cart"
    assert client.cookies.get("festflow_pass") == "payload.signature"
    client.post("/cart/items", data={"ticket_id": "vip", "quantity": "1"})
    client.post("/cart/checkout", data={"version": "1"})
    assert fake.pass_headers == ["payload.signature"]  # the checkout carries the pass


def test_a_checkout_refused_by_the_waiting_room_links_to_it(setup):
    client, fake, private = setup
    _login(client, private)
    fake.checkout_status = 403
    fake.checkout_refusal = ("this sale has a waiting room: join it at /cart/waiting-room and check out when it is "
                             "your turn")
    client.post("/cart/items", data={"ticket_id": "vip", "quantity": "1"})
    html = client.post("/cart/checkout", data={"version": "1"}).text
    assert "this sale has a waiting room" in html and 'href="/cart/waiting-room"' in html
    assert "Confirm your email" not in html
