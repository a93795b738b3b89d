"""The cart API through the gateway, on the real stack: anonymous carts, merging at login, and a
checkout that empties the cart with the order and comes back when the order is rejected."""
import uuid

import pytest

from e2e_helpers import bearer, eventually, login, new_ticket_type, place_order, wait_status

pytestmark = pytest.mark.stack


def test_an_anonymous_cart_needs_a_uuid_token(api):
    assert api.get("/api/cart").status_code == 401
    assert api.get("/api/cart", headers={"X-Cart-Token": "guest"}).status_code == 400
    token = str(uuid.uuid4())
    assert api.get("/api/cart", headers={"X-Cart-Token": token}).json()["items"] == []


def test_an_anonymous_cart_merges_into_the_account_at_login_and_is_gone_after(api):
    token = {"X-Cart-Token": str(uuid.uuid4())}
    resp = api.post("/api/cart/items", headers=token, json={"ticket_id": "camping-pass", "quantity": 2})
    assert resp.status_code == 200 and resp.json()["items"][0]["quantity"] == 2
    # a fresh account of the test's own would need sign-up; the admin account's cart is unused elsewhere
    admin = login(api, "admin", "admin123")
    api.cookies.clear()
    mine = api.get("/api/cart", headers={**bearer(admin), **token}).json()
    assert {i["ticket_id"]: i["quantity"] for i in mine["items"]}.get("camping-pass", 0) >= 2
    assert api.get("/api/cart", headers=token).json()["items"] == []  # the next person on that browser
    for item in mine["items"]:
        api.delete(f"/api/cart/items/{item['ticket_id']}", headers=bearer(admin))


@pytest.mark.parametrize("quantity,status", [(11, 422), (-1, 422), ("2", 422), (True, 422), (1.5, 422)])
def test_strict_quantities(api, quantity, status):
    token = {"X-Cart-Token": str(uuid.uuid4())}
    api.post("/api/cart/items", headers=token, json={"ticket_id": "camping-pass", "quantity": 1})
    resp = api.put("/api/cart/items/camping-pass", headers=token, json={"quantity": quantity})
    assert resp.status_code == status and resp.json()["detail"]
    assert api.get("/api/cart", headers=token).json()["items"][0]["quantity"] == 1


def test_checkout_is_atomic_a_retry_finds_the_order_and_a_rejection_restores_the_cart(api, admin_token):
    ticket = new_ticket_type(api, admin_token, stock=3)
    buyer = admin_token
    for item in api.get("/api/cart", headers=bearer(buyer)).json()["items"]:
        api.delete(f"/api/cart/items/{item['ticket_id']}", headers=bearer(buyer))
    cart = api.post("/api/cart/items", headers=bearer(buyer), json={"ticket_id": ticket["id"], "quantity": 3}).json()
    # someone else buys one meanwhile, so this order of 3 will be short
    wait_status(api, buyer, place_order(api, buyer, [(ticket["id"], 1)]).json()["order_id"], "CONFIRMED")
    resp = api.post("/api/cart/checkout", headers=bearer(buyer), json={"version": cart["version"]})
    assert resp.status_code == 202
    order_id = resp.json()["order_id"]
    assert api.get("/api/cart", headers=bearer(buyer)).json()["items"] == []
    retry = api.post("/api/cart/checkout", headers=bearer(buyer), json={"version": cart["version"]})
    assert retry.status_code == 202 and retry.json()["order_id"] == order_id
    rejected = wait_status(api, buyer, order_id, "REJECTED")
    assert rejected["reason"] == f"only 2 {ticket['name']} left, 3 requested"
    back = eventually(lambda: (c := api.get("/api/cart", headers=bearer(buyer)).json())["items"] and c,
                      what="the cart's lines back")
    assert back["items"] == [{"ticket_id": ticket["id"], "name": ticket["name"], "quantity": 3}]
    assert rejected["reason"] in back["notice"] and back["last_order"]["status"] == "REJECTED"
    stale = api.post("/api/cart/checkout", headers=bearer(buyer), json={"version": cart["version"] + 1})
    assert stale.status_code == 409 and "changed" in stale.json()["detail"]
    api.delete(f"/api/cart/items/{ticket['id']}", headers=bearer(buyer))
