"""Stripe's webhooks: each event verified with `stripe.Webhook.construct_event` (Stripe's signature, HMAC-SHA256
of "timestamp.payload" with the endpoint's secret, and not older than the tolerance, so a replay is refused)
and kept once in the webhook inbox by its id. Stripe sends an event again until it gets a 2xx, and in no
particular order: a duplicate is answered 200 and changes nothing but its count; acting on an event reads
the inbox, in the order the events were made (`created`), whatever order they came in.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa
import stripe
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events
from payment_service.db import webhook_inbox


class BadWebhook(Exception):
    """Not an event Stripe signed for this endpoint (or one too old): refused, and nothing is kept."""


@dataclass(frozen=True)
class Received:
    event_id: str
    type: str
    duplicate: bool


async def receive(engine: AsyncEngine, payload: bytes, signature: str | None, secret: str,
                  tolerance: int = 300) -> Received:
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as exc:
        raise BadWebhook(f"the signature does not verify: {exc.user_message or exc}") from None
    except ValueError as exc:
        raise BadWebhook(f"the body is no Stripe event: {exc}") from None
    event_id, kind, created = str(event.id), str(event.type), int(event.to_dict().get("created") or 0)
    try:
        async with engine.begin() as conn:
            await conn.execute(webhook_inbox.insert().values(
                event_id=event_id, provider="stripe", type=kind, created=created,
                payload=json.dumps(json.loads(payload)), received_at=events.now_iso()))
    except IntegrityError:
        async with engine.begin() as conn:
            await conn.execute(webhook_inbox.update().where(webhook_inbox.c.event_id == event_id)
                               .values(times_received=webhook_inbox.c.times_received + 1))
        return Received(event_id, kind, duplicate=True)
    return Received(event_id, kind, duplicate=False)


async def inbox(engine: AsyncEngine, provider: str = "stripe") -> list[dict]:
    """The events kept, in the order the provider made them."""
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(webhook_inbox).where(webhook_inbox.c.provider == provider)
                                   .order_by(webhook_inbox.c.created, webhook_inbox.c.event_id))).mappings().all()
    return [dict(row) for row in rows]
