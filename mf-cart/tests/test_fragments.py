"""mf-cart's fragments and actions, with the order API replaced by an in-process fake (unit level)."""
import json

import httpx
import pytest
from fastapi.testclient import TestClient

from festflow_contracts.tokens import generate_keypair

TICKETS = [{"id": "vip", "name": "VIP Weekend", "price": "249.00", "price_cents": 24900, "stock": 5}]


class FakeOrderApi:
    def __init__(self):
        self.orders = []
        self.order_status = 202

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/tickets":
            return httpx.Response(200, json=TICKETS)
        if request.url.path == "/api/orders" and request.method == "POST":
            self.orders.append((request.headers.get("Idempotency-Key"), json.loads(request.content)))
            if self.order_status != 202:
                return httpx.Response(self.order_status, json={"detail": "message broker is not connected"})
            return httpx.Response(202, json={"order_id": "12345678-aaaa", "status": "PENDING"})
        if request.url.path.startswith("/api/orders/"):
            return httpx.Response(200, json={"order_id": "12345678-aaaa", "status": "PENDING", "reason": None})
        return httpx.Response(404)


@pytest.fixture
def setup():
    private, public = generate_keypair()
    mp = pytest.MonkeyPatch()
    mp.setenv("JWT_PUBLIC_KEY", public)
    from mf_cart.main import app
    fake = FakeOrderApi()
    with TestClient(app) as client:
        app.state.api = httpx.AsyncClient(transport=httpx.MockTransport(fake), base_url="http://api")
        yield client, fake, private
    mp.undo()


def _login(client, private):
    import time

    from jose import jwt

    from festflow_contracts.tokens import AUDIENCE, ISSUER
    token = jwt.encode({"sub": "guest", "role": "client", "iss": ISSUER, "aud": AUDIENCE,
                        "exp": int(time.time()) + 60}, private, algorithm="RS256")
    client.cookies.set("festflow_token", token)


def test_add_shows_the_line_and_total_and_announces_it(setup):
    client, _, _ = setup
    resp = client.post("/cart/items", data={"ticket_id": "vip", "quantity": "2"})
    assert resp.headers["HX-Trigger"] == "cart:updated"
    assert "Added 2 × VIP Weekend." in resp.text and 'data-role="total">498.00' in resp.text


def test_bad_quantity_and_unknown_ticket_give_messages(setup):
    client, _, _ = setup
    assert "whole number" in client.post("/cart/items", data={"ticket_id": "vip", "quantity": "two"}).text
    assert "not on sale" in client.post("/cart/items", data={"ticket_id": "nope", "quantity": "1"}).text


def test_anonymous_checkout_asks_to_log_in(setup):
    client, fake, _ = setup
    client.post("/cart/items", data={"ticket_id": "vip", "quantity": "1"})
    assert "Please log in to check out." in client.post("/cart/checkout").text
    assert fake.orders == []


def test_checkout_sends_the_cart_with_its_key_then_empties_it(setup):
    client, fake, private = setup
    _login(client, private)
    client.post("/cart/items", data={"ticket_id": "vip", "quantity": "2"})
    key = client.cookies.get("festflow_cart").split("|")[1]
    resp = client.post("/cart/checkout")
    assert resp.headers["HX-Trigger"] == "order:placed"
    assert "Order 12345678 placed: waiting for confirmation." in resp.text
    assert fake.orders == [(key, {"items": [{"ticket_id": "vip", "quantity": 2}]})]
    assert "Your cart is empty." in resp.text


def test_failed_checkout_keeps_cart_and_key_for_a_safe_retry(setup):
    client, fake, private = setup
    _login(client, private)
    fake.order_status = 503
    client.post("/cart/items", data={"ticket_id": "vip", "quantity": "1"})
    client.post("/cart/checkout")
    resp = client.post("/cart/checkout")
    assert "Checkout failed: message broker is not connected" in resp.text
    assert fake.orders[0][0] == fake.orders[1][0]  # same Idempotency-Key both times
    assert "VIP Weekend" in resp.text
