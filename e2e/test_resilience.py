"""What happens when a broker goes away and comes back, with the real servers."""
import uuid

import pytest

from e2e_helpers import bearer, eventually, place_order, stock_of, wait_status

pytestmark = pytest.mark.stack


def test_broker_down_means_503_and_a_retry_with_the_same_key_succeeds_later(api, stack, guest_token):
    key = str(uuid.uuid4())
    before = stock_of(api, "camping-pass")
    stack.supervisor.stop_one("rabbitmq")
    try:
        resp = place_order(api, guest_token, [("camping-pass", 1)], key=key)
        assert resp.status_code == 503
        assert "retry with the same Idempotency-Key" in resp.json()["detail"]
        # an order that was not accepted is not shown as placed
        assert all(o["status"] != "PENDING" for o in api.get("/api/orders", headers=bearer(guest_token)).json())
    finally:
        stack.supervisor.restart("rabbitmq")

    def retried():
        resp = place_order(api, guest_token, [("camping-pass", 1)], key=key)
        return resp if resp.status_code == 202 else None

    order = eventually(retried, timeout=30, interval=0.5, what="the order API to reconnect to RabbitMQ").json()
    wait_status(api, guest_token, order["order_id"], "CONFIRMED", timeout=30)  # the worker reconnected too
    assert stock_of(api, "camping-pass") == before - 1
