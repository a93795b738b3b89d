"""Card payment confirmations at the scale of a drop, on the payment service's own code against a real PostgreSQL
server (the bench profile's own cluster, started here): ORDERS held orders are awaited, each buyer starts a card
payment (the intents come from a stand-in for Stripe's API: stripe-mock's figures would be its own), then Stripe's
`payment_intent.amount_capturable_updated` events arrive signed in Stripe's scheme, CONCURRENCY at a time, as
the webhook route takes them (signature checked with `stripe.Webhook.construct_event`, kept once in the inbox),
and the worker applies them (each authorisation announced once as PaymentReceived, the inventory's side of which
`holds_bench.py` measures). Then every event is sent again: nothing may be announced twice.

`python bench/webhook_bench.py [--orders 2000]` prints the figures. Target: confirmations >= 500/s, each once.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid

import sqlalchemy as sa
from bench_postgres import bench_postgres

from festflow_devstack.postgres import create_database
from payment_service import db
from payment_service.bank_transfers import Awaited, expect_payments
from payment_service.card_payments import apply_webhooks, start
from payment_service.stripe_payments import Intent
from payment_service.stripe_webhooks import receive

SECRET = "whsec_bench"
CONCURRENCY = 32
DUE = "2099-01-01T00:00:00.000Z"


class Intents:
    """Stripe's API as the card payment's start uses it: a fresh intent a call."""

    def __init__(self) -> None:
        self.numbers = itertools.count(1)

    async def prepare(self, order_id: str, amount_cents: int, currency: str, reference: str) -> Intent:
        return Intent(f"pi_bench_{next(self.numbers)}", "requires_payment_method", amount_cents, currency, "secret")


def signed(intent_id: str, order_id: str) -> tuple[bytes, str]:
    """Stripe's event that the card was authorised, and its Stripe-Signature header."""
    payload = json.dumps({"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event",
                          "type": "payment_intent.amount_capturable_updated", "api_version": "2024-06-20",
                          "created": int(time.time()), "livemode": False,
                          "data": {"object": {"object": "payment_intent", "id": intent_id, "amount": 8900,
                                              "amount_capturable": 8900, "status": "requires_capture",
                                              "metadata": {"order_id": order_id}}}}).encode()
    at = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return payload, f"t={at},v1={mac}"


async def announced(engine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(db.event_outbox)) or 0)


async def run(port: int, orders: int) -> None:
    engine = db.make_engine(create_database(port, f"webhooks_{uuid.uuid4().hex[:8]}"))
    await db.create_schema(engine)
    ids = [str(uuid.uuid4()) for _ in range(orders)]
    await expect_payments(engine, [Awaited(order_id, 8900, "EUR", DUE, f"fan{n}") for n, order_id in enumerate(ids)])
    intents = Intents()
    started = [await start(engine, intents, order_id, f"fan{n}") for n, order_id in enumerate(ids)]  # type: ignore[arg-type]
    events = [signed(s.intent_id, s.order_id) for s in started]

    async def deliver(batch: list[tuple[bytes, str]]) -> None:
        queue = list(batch)

        async def worker() -> None:
            while queue:
                payload, signature = queue.pop()
                await receive(engine, payload, signature, SECRET)
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

    # as the service runs: the route keeps each event while the worker applies what has come (here the worker
    # looks again at once; in the service a webhook wakes it)
    delivered = asyncio.Event()
    received_at: list[float] = []

    async def applier() -> None:
        while True:
            done = await apply_webhooks(engine)
            if not done and delivered.is_set() and await announced(engine) >= orders:
                return
            if not done:
                await asyncio.sleep(0.005)

    t0 = time.perf_counter()
    applying = asyncio.create_task(applier())
    await deliver(events)
    received_at.append(time.perf_counter() - t0)
    delivered.set()
    await asyncio.wait_for(applying, 120)
    total = time.perf_counter() - t0
    received = received_at[0]
    once = await announced(engine)
    await deliver(events)  # Stripe sends them all again
    while await apply_webhooks(engine):
        pass
    again = await announced(engine)
    print(f"webhooks: {orders} signed authorisations received in {received:.2f} s ({CONCURRENCY} at a time: "
          f"signature checked, kept once in the inbox) while the worker applied them; all {orders} announced "
          f"{total:.2f} s after the first: {orders / total:,.0f} confirmations/s end to end")
    print(f"announced: {once} payments for {orders} orders; after every event came again: {again}")
    assert once == orders and again == orders, "a payment was announced more or less than once"
    await engine.dispose()


async def main(orders: int) -> None:
    with bench_postgres() as port:
        await run(port, orders)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    asyncio.run(main(parser.parse_args().orders))
