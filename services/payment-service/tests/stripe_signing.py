"""Stripe's webhook signature, made the way Stripe makes it (the tests sign the events stripe-mock cannot
send): `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<payload>" with the endpoint secret>`."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid


def stripe_event(kind: str = "payment_intent.amount_capturable_updated", created: int | None = None,
                 event_id: str | None = None, **data: object) -> bytes:
    return json.dumps({"id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": kind,
                       "api_version": "2024-06-20", "created": created or int(time.time()), "livemode": False,
                       "data": {"object": {"object": "payment_intent", **data}}}).encode()


def signature(payload: bytes, secret: str, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"
