"""Holds at the scale of a drop, on the inventory's and the payment service's own code against a real
PostgreSQL server (the bench profile's own cluster, started here):

1. **Expiry**: HOLDS orders held with the same deadline; two expiry watches run side by side, as two
   inventory instances would. When was each hold released after its deadline (p50, p99, the last), was any
   released twice, and is the stock exactly back?
2. **Payment confirmations**: PAID orders held for a bank transfer; the payment service awaits them (as it
   does from the held events), one CAMT.053 statement pays them all, and the inventory applies the payment
   events the import announced (as its Kafka consumer does, in fetches). Each order must be confirmed exactly
   once, and the statement imported again must confirm nothing.

`python bench/holds_bench.py [--holds 1000] [--paid 2000]` prints the figures.
Targets: 1,000 holds expiring in the same second all released within 5 s, stock exact; payment
confirmations >= 500/s, each order confirmed once.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from bench_postgres import bench_postgres
from statement_bench import camt

from festflow_contracts import events
from festflow_contracts.messages import OrderItem, PlaceOrder
from festflow_devstack.postgres import create_database
from inventory_service import db as inventory_db
from inventory_service import festival
from inventory_service.hold_keeper import ExpiryWatch, on_payment_batches
from inventory_service.reservation import place_orders
from payment_service import db as payment_db
from payment_service.bank_transfers import Awaited, expect_payments, import_statement

TICKET = "drop-pass"
FETCH = 500  # payment events a Kafka fetch brings at most (aiokafka's default max_poll_records)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def inventory(url: str, stock: int) -> sa.ext.asyncio.AsyncEngine:
    engine = inventory_db.make_engine(url)
    await inventory_db.create_schema(engine)
    await inventory_db.seed(engine)
    async with engine.begin() as conn:
        await conn.execute(inventory_db.tickets.insert().values(id=TICKET, name="Drop Pass", price_cents=8900,
                                                                stock=stock))
    await festival.update(engine, festival.FestivalPatch(iban="DE89370400440532013000", bic="COBADEFFXXX",
                                                         beneficiary="Bench Festival", bank_transfer_days=1))
    return engine


async def hold(engine, count: int, processed_at: str) -> list[str]:
    commands = [PlaceOrder(order_id=str(uuid.uuid4()), username=f"buyer{n}", email=f"buyer{n}@bench.test",
                           items=(OrderItem(ticket_id=TICKET, quantity=1),)) for n in range(count)]
    for first in range(0, count, 200):
        outcomes = await place_orders(engine, commands[first:first + 200], processed_at=processed_at)
        assert {o.status for o in outcomes} == {"AWAITING_PAYMENT"}, {o.status for o in outcomes}
    return [c.order_id for c in commands]


async def stock(engine) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(sa.select(inventory_db.tickets.c.stock).where(inventory_db.tickets.c.id == TICKET))


async def expiry(port: int, holds: int) -> None:
    url = create_database(port, f"holds_{uuid.uuid4().hex[:8]}")
    engine = await inventory(url, holds)
    deadline = datetime.now(UTC) + timedelta(seconds=4)
    await hold(engine, holds, events.iso(deadline - timedelta(days=1)))  # each deadline: `deadline`
    assert await stock(engine) == 0
    released: dict[str, float] = {}
    twice: list[str] = []

    def seen(outcome) -> None:
        if outcome.order_id in released:
            twice.append(outcome.order_id)
        released[outcome.order_id] = time.time()

    instances = [inventory_db.make_engine(url) for _ in range(2)]  # two inventory instances, each its own pool
    watches = [asyncio.create_task(ExpiryWatch(e, seen).run()) for e in instances]
    while len(released) < holds and time.time() < deadline.timestamp() + 30:
        await asyncio.sleep(0.05)
    for watch in watches:
        watch.cancel()
    after = [at - deadline.timestamp() for at in released.values()]
    left = await stock(engine)
    for e in [engine, *instances]:
        await e.dispose()
    print(f"expiry: {holds} holds with one deadline, two expiry watches: {len(released)} released, "
          f"{len(twice)} twice; after the deadline p50 {pct(after, .5):.2f} s, p99 {pct(after, .99):.2f} s, "
          f"last {max(after):.2f} s; stock back {left} of {holds}"
          + ("  OK" if len(released) == holds and not twice and left == holds and max(after) <= 5 else "  MISSED"))


async def confirmations(port: int, paid: int) -> None:
    url = create_database(port, f"paid_{uuid.uuid4().hex[:8]}")
    engine = await inventory(url, paid)
    orders = await hold(engine, paid, events.now_iso())
    payments = payment_db.make_engine(create_database(port, f"payments_{uuid.uuid4().hex[:8]}"))
    await payment_db.create_schema(payments)
    due = events.iso(datetime.now(UTC) + timedelta(days=1))
    await expect_payments(payments, [Awaited(order, 8900, "EUR", due) for order in orders])
    statement = camt(orders)
    started = time.perf_counter()
    imported = await import_statement(payments, statement)
    imported_in = time.perf_counter() - started
    async with payments.connect() as conn:
        announced = [json.loads(p) for p in (await conn.scalars(
            sa.select(payment_db.event_outbox.c.payload).order_by(payment_db.event_outbox.c.seq))).all()]
    outcomes: list[str] = []
    handle = on_payment_batches(engine, lambda outcome: outcomes.append(outcome.status))
    started = time.perf_counter()
    for first in range(0, len(announced), FETCH):  # the consumer applies them a fetch at a time, in order
        await handle(announced[first:first + FETCH])
    applied_in = time.perf_counter() - started
    again = await import_statement(payments, statement)
    async with engine.connect() as conn:
        confirmed = await conn.scalar(sa.select(sa.func.count()).select_from(inventory_db.orders).where(
            inventory_db.orders.c.status == "CONFIRMED", inventory_db.orders.c.order_id.in_(orders)))
        sold_events = await conn.scalar(sa.select(sa.func.count()).select_from(inventory_db.outbox).where(
            inventory_db.outbox.c.payload.like(f'%"type":"{events.ORDER_CONFIRMED}"%')))
    await engine.dispose()
    await payments.dispose()
    rate = paid / (imported_in + applied_in)
    ok = (len(imported.matched) == paid and confirmed == paid and sold_events == paid and again.duplicates == paid
          and not again.matched and outcomes.count("CONFIRMED") == paid)
    print(f"payments: {paid} held orders paid by one CAMT.053 statement: imported in {imported_in:.2f} s, "
          f"{len(announced)} payments applied by the inventory in {applied_in:.2f} s ({paid / applied_in:,.0f}/s); "
          f"{rate:,.0f} confirmations/s end to end; {confirmed} confirmed, {sold_events} sales announced; "
          f"the statement again: {again.duplicates} read before, {len(again.matched)} paid"
          + ("  OK" if ok and rate >= 500 else "  MISSED"))


async def main(holds: int, paid: int) -> None:
    with bench_postgres() as port:
        await expiry(port, holds)
        await confirmations(port, paid)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--holds", type=int, default=1000)
    parser.add_argument("--paid", type=int, default=2000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.holds, arguments.paid))
