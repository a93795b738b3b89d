"""What happens when a broker goes away and comes back, with the real servers."""
import time
import uuid

import pytest

from e2e_helpers import bearer, place_order, stock_of, wait_status

pytestmark = pytest.mark.stack


def test_broker_down_still_accepts_orders_durably_and_they_complete_when_it_is_back(api, stack, guest_token):
    key = str(uuid.uuid4())
    before = stock_of(api, "camping-pass")
    stack.supervisor.stop_one("rabbitmq")
    try:
        resp = place_order(api, guest_token, [("camping-pass", 1)], key=key)
        assert resp.status_code == 202, resp.text  # committed with its command in the outbox
        order = resp.json()
        assert order["status"] == "PENDING"
        # the buyer sees the order at once, and a retry with the same key finds it
        listed = {o["order_id"]: o for o in api.get("/api/orders", headers=bearer(guest_token)).json()}
        assert listed[order["order_id"]]["status"] == "PENDING"
        again = place_order(api, guest_token, [("camping-pass", 1)], key=key)
        assert again.status_code == 202 and again.json()["order_id"] == order["order_id"]
    finally:
        stack.supervisor.restart("rabbitmq")
    # the relay sends the command once the broker is back, and the worker has reconnected too
    wait_status(api, guest_token, order["order_id"], "CONFIRMED", timeout=45)
    assert stock_of(api, "camping-pass") == before - 1


def test_inventory_down_checkout_still_accepts_from_the_local_catalog(api, stack, guest_token):
    before = stock_of(api, "general-admission")
    stack.supervisor.stop_one("inventory-service")
    try:
        resp = place_order(api, guest_token, [("general-admission", 1)])
        assert resp.status_code == 202, resp.text  # no HTTP call to the inventory on the order path
        unknown = place_order(api, guest_token, [("no-such-ticket", 1)])
        assert unknown.status_code == 422 and "unknown ticket" in unknown.json()["detail"]
    finally:
        stack.supervisor.restart("inventory-service")
    wait_status(api, guest_token, resp.json()["order_id"], "CONFIRMED", timeout=45)
    assert stock_of(api, "general-admission") == before - 1


def test_kafka_away_checkout_goes_on_logs_stay_quiet_and_apps_stop_fast(api, stack, profile, guest_token):
    logs = profile.run_dir / "logs"
    sizes = {name: (logs / f"{name}.log").stat().st_size for name in ("email-function", "inventory-service")}
    stack.supervisor.stop_one("kafka")
    try:
        resp = place_order(api, guest_token, [("camping-pass", 1)])
        assert resp.status_code == 202, resp.text
        time.sleep(8)
        started = time.monotonic()
        stack.supervisor.stop_one("email-function")
        stopped_in = time.monotonic() - started
        grown = {name: (logs / f"{name}.log").stat().st_size - size for name, size in sizes.items()}
    finally:
        stack.supervisor.restart("kafka")
        stack.supervisor.restart("email-function")
    assert stopped_in < 10, f"the email function took {stopped_in:.1f} s to stop while Kafka was away"
    # about 8 s of outage: a few lines per client, not thousands a second
    assert all(size < 20_000 for size in grown.values()), grown
    wait_status(api, guest_token, resp.json()["order_id"], "CONFIRMED", timeout=60)
