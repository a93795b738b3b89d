"""The public order API's contract: every 4xx, idempotent retries, rejection, isolation between users."""
import uuid

import pytest

from e2e_helpers import bearer, eventually, mails_for, place_order, stock_of, wait_status

pytestmark = pytest.mark.stack


def test_login(api):
    resp = api.post("/api/auth/login", json={"username": "guest", "password": "festflow"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer" and body["access_token"]
    cookie = resp.headers["set-cookie"].lower()
    assert "festflow_token=" in cookie and "httponly" in cookie and "samesite=lax" in cookie


@pytest.mark.parametrize("body", [
    {"username": "guest", "password": "wrong"},
    {"username": "nobody", "password": "festflow"},
])
def test_wrong_credentials_are_401(api, body):
    resp = api.post("/api/auth/login", json=body)
    assert resp.status_code == 401 and resp.json()["detail"] == "wrong username or password"


def test_tickets_list_prices_as_decimal_strings(api):
    for ticket in api.get("/api/tickets").json():
        assert isinstance(ticket["price"], str) and ticket["price_cents"] == int(ticket["price"].replace(".", ""))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic Zm9v"}])
def test_orders_need_a_valid_token(api, headers):
    resp = api.post("/api/orders", headers={**headers, "Idempotency-Key": "k"},
                    json={"items": [{"ticket_id": "camping-pass", "quantity": 1}]})
    assert resp.status_code == 401 and "authentication required" in resp.json()["detail"]
    assert api.get("/api/orders", headers=headers).status_code == 401


def test_expired_token_is_401(api, profile):
    from order_service.security import TokenIssuer
    expired = TokenIssuer((profile.run_dir / "keys" / "jwt-private.pem").read_text(), -10).issue(
        "guest", "client", "guest@festflow.local")
    assert api.get("/api/orders", headers=bearer(expired)).status_code == 401


@pytest.mark.parametrize("items,status,reason", [
    ([("no-such-ticket", 1)], 422, "unknown ticket: no-such-ticket"),
    ([("camping-pass", 0)], 422, "greater than or equal to 1"),
    ([("camping-pass", 11)], 422, "at most 10 of one ticket per order"),
    ([("camping-pass", 1), ("camping-pass", 2)], 422, "only once"),
    ([], 422, "at least 1 item"),
])
def test_invalid_orders_are_refused_with_a_reason(api, guest_token, items, status, reason):
    resp = place_order(api, guest_token, items)
    assert resp.status_code == status
    assert reason in str(resp.json()["detail"])


@pytest.mark.parametrize("body", [b"{not json", b'{"items": "many"}', b'{"items": [], "extra": 1}',
                                  b'{"items": [{"ticket_id": "camping-pass", "quantity": "lots"}]}',
                                  b'{"items": [{"ticket_id": "camping-pass", "quantity": "2"}]}',
                                  b'{"items": [{"ticket_id": "camping-pass", "quantity": true}]}',
                                  b'{"items": [{"ticket_id": "camping-pass", "quantity": NaN}]}',
                                  b'{"items": [{"ticket_id": "camping-pass", "quantity": 1e400}]}',
                                  b'{"items": [{"ticket_id": "\\ud800", "quantity": 1}]}'])
def test_malformed_bodies_are_422(api, guest_token, body):
    resp = api.post("/api/orders", content=body, headers={**bearer(guest_token), "Idempotency-Key": "m",
                                                          "Content-Type": "application/json"})
    assert resp.status_code == 422 and resp.json()["detail"]


def test_idempotency_key_is_required(api, guest_token):
    resp = api.post("/api/orders", headers=bearer(guest_token),
                    json={"items": [{"ticket_id": "camping-pass", "quantity": 1}]})
    assert resp.status_code == 400 and "Idempotency-Key" in resp.json()["detail"]


def test_same_key_returns_the_same_order_and_buys_once(api, profile, guest_token):
    before = stock_of(api, "general-admission")
    key = str(uuid.uuid4())
    first = place_order(api, guest_token, [("general-admission", 3)], key=key)
    second = place_order(api, guest_token, [("general-admission", 3)], key=key)
    assert first.status_code == second.status_code == 202
    order_id = first.json()["order_id"]
    assert second.json()["order_id"] == order_id
    wait_status(api, guest_token, order_id, "CONFIRMED")
    third = place_order(api, guest_token, [("general-admission", 3)], key=key)
    assert third.json()["order_id"] == order_id and third.json()["status"] == "CONFIRMED"
    assert stock_of(api, "general-admission") == before - 3
    assert len(eventually(lambda: mails_for(profile, order_id), what="mail")) == 1


def test_same_key_with_a_different_order_is_409(api, guest_token):
    key = str(uuid.uuid4())
    assert place_order(api, guest_token, [("camping-pass", 1)], key=key).status_code == 202
    resp = place_order(api, guest_token, [("camping-pass", 2)], key=key)
    assert resp.status_code == 409 and "different order" in resp.json()["detail"]


def test_order_larger_than_stock_is_rejected_and_changes_nothing(api, profile, guest_token, admin_token):
    # VIP stock is 50 at most; buy it down so that a 10-ticket order no longer fits
    left = stock_of(api, "vip-weekend")
    while left >= 10:
        order_id = place_order(api, admin_token, [("vip-weekend", 10)]).json()["order_id"]
        wait_status(api, admin_token, order_id, "CONFIRMED")
        left -= 10
    camping_before = stock_of(api, "camping-pass")
    resp = place_order(api, guest_token, [("camping-pass", 1), ("vip-weekend", 10)])
    assert resp.status_code == 202
    order_id = resp.json()["order_id"]
    rejected = wait_status(api, guest_token, order_id, "REJECTED")
    assert rejected["reason"] in (f"only {left} VIP Weekend left, 10 requested", "VIP Weekend is sold out")
    assert stock_of(api, "vip-weekend") == left
    assert stock_of(api, "camping-pass") == camping_before  # all or nothing
    [mail] = eventually(lambda: mails_for(profile, order_id), what="the rejection mail")
    assert "could not be completed" in mail["subject"] and rejected["reason"] in mail["body"]


def test_users_see_only_their_own_orders(api, guest_token, admin_token):
    mine = place_order(api, guest_token, [("camping-pass", 1)]).json()["order_id"]
    assert api.get(f"/api/orders/{mine}", headers=bearer(guest_token)).status_code == 200
    assert api.get(f"/api/orders/{mine}", headers=bearer(admin_token)).status_code == 404
    assert mine not in [o["order_id"] for o in api.get("/api/orders", headers=bearer(admin_token)).json()]
    assert api.get(f"/api/orders/{uuid.uuid4()}", headers=bearer(guest_token)).status_code == 404


def test_a_token_is_refused_everywhere_after_logout(api, gateway):
    from e2e_helpers import assert_refused_everywhere, login
    token = login(api, "guest", "festflow")
    api.cookies.clear()
    assert api.get("/api/orders", headers=bearer(token)).status_code == 200
    assert api.post("/api/auth/logout", headers=bearer(token)).status_code == 204
    assert_refused_everywhere(api, gateway, token, "revoked")


def test_repeated_failed_logins_slow_down_then_lock_the_name_with_a_reason(api):
    name = f"nobody-{uuid.uuid4().hex[:8]}"
    codes = [api.post("/api/auth/login", json={"username": name, "password": "x"}) for _ in range(10)]
    assert [r.status_code for r in codes[:9]] == [401] * 9
    locked = codes[9]
    assert locked.status_code == 429 and "locked until" in locked.json()["detail"]
    assert int(locked.headers["Retry-After"]) > 0


def test_unknown_and_known_users_take_as_long(api):
    import statistics
    import time

    def timed(body):
        started = time.perf_counter()
        api.post("/api/auth/login", json=body)
        return time.perf_counter() - started

    known = [timed({"username": "guest", "password": "festflow"}) for _ in range(5)]
    unknown = [timed({"username": f"nobody-{uuid.uuid4().hex[:8]}", "password": "festflow"}) for _ in range(5)]
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2, (ratio, known, unknown)  # slower or faster, an unknown name would stand out
