"""The inventory's background work on holds: the expiry watch (releases every hold whose deadline has
passed, at most `POLL` seconds after it: a poll of one indexed query, and at once again while a batch was
full) and the payments it hears of on Kafka (each turns its hold into a sale, see holds.py). Every instance
runs both: a hold is released or sold once whichever instance gets to it, and a restarted instance picks up
what passed meanwhile."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import messages
from festflow_contracts.messages import PaymentReceived
from festflow_runtime.activity import ActivityLog
from festflow_runtime.backoff import Backoff
from inventory_service.holds import BATCH, expire_due, settle_payment, settle_payments
from inventory_service.reservation import Outcome

log = logging.getLogger("inventory_service.holds")
POLL = 0.5  # seconds between two looks for holds past their deadline


class ExpiryWatch:
    def __init__(self, engine: AsyncEngine, on_outcome: Callable[[Outcome], None], poll: float = POLL):
        self.engine, self.on_outcome, self.poll = engine, on_outcome, poll
        self.activity = ActivityLog(log, "holds")

    async def run(self) -> None:
        backoff = Backoff(log, "releasing holds past their deadline", start=0.5, maximum=10.0)
        while True:
            try:
                released = await expire_due(self.engine)
            except Exception as exc:
                await backoff.failed(exc)
                continue
            backoff.succeeded()
            for outcome in released:
                self.on_outcome(outcome)
            if released:
                self.activity.count("expired", len(released))
            if len(released) < BATCH:
                await asyncio.sleep(self.poll)


def on_payments(engine: AsyncEngine, on_outcome: Callable[[Outcome], None]):
    """Applies one payment event (a Kafka subscription's handler: what fails is retried, then parked)."""
    async def handle(event: dict[str, Any]) -> None:
        payment = messages.parse(event, PaymentReceived)
        outcome = await settle_payment(engine, payment)
        log.info("payment %s for order %s: %s %s", payment.payment_id, payment.order_id[:8], outcome.status,
                 outcome.reason or "")
        on_outcome(outcome)
    return handle


def on_payment_batches(engine: AsyncEngine, on_outcome: Callable[[Outcome], None]):
    """Applies a fetch of payment events in one transaction (a statement pays thousands of orders at once); a
    fetch that fails is handled one by one by the subscription (`on_payments`)."""
    activity = ActivityLog(log, "payments")

    async def handle(batch: list[dict[str, Any]]) -> None:
        payments = [messages.parse(event, PaymentReceived) for event in batch]
        for outcome in await settle_payments(engine, payments):
            activity.count(outcome.status.lower())
            if outcome.status not in ("CONFIRMED", "DUPLICATE"):
                log.info("payment for order %s: %s %s", outcome.order_id[:8], outcome.status, outcome.reason or "")
            on_outcome(outcome)
    return handle
