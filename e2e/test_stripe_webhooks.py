"""Stripe's webhooks through the gateway, signed by the test in Stripe's scheme (stripe-mock sends none): a
signed event is kept once, a forged or stale one is a 400."""
import hashlib
import hmac
import json
import time
import uuid

import httpx
import pytest

from festflow_devstack.apps import TEST_STRIPE_WEBHOOK_SECRET

pytestmark = pytest.mark.stack


def signed(payload: bytes, secret: str = TEST_STRIPE_WEBHOOK_SECRET, at: int | None = None) -> dict[str, str]:
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={at},v1={mac}", "Content-Type": "application/json"}


def test_a_signed_event_is_kept_once_and_a_forged_or_stale_one_is_refused(gateway):
    event = json.dumps({"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": "payment_intent.succeeded",
                        "created": int(time.time()), "data": {"object": {"object": "payment_intent"}}}).encode()
    with httpx.Client(base_url=gateway, timeout=10) as client:
        forged = client.post("/api/payments/stripe/webhook", content=event, headers=signed(event, "whsec_forger"))
        stale = client.post("/api/payments/stripe/webhook", content=event,
                            headers=signed(event, at=int(time.time()) - 3600))
        first = client.post("/api/payments/stripe/webhook", content=event, headers=signed(event))
        again = client.post("/api/payments/stripe/webhook", content=event, headers=signed(event))
    assert forged.status_code == 400 and stale.status_code == 400
    assert first.status_code == 200 and first.json()["duplicate"] is False
    assert again.status_code == 200 and again.json()["duplicate"] is True
