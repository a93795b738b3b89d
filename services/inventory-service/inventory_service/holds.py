"""Holds: the stock of an order awaiting payment is taken from sale until its deadline (reservation.py
takes it). From here a hold ends exactly once, each way one conditional UPDATE of the order's status:

- **paid** (`settle_payment`, a PaymentReceived): AWAITING_PAYMENT -> CONFIRMED, and TICKET_SOLD is written
  as for any sale (tickets, mail and bell follow). A payment for an order that expired meanwhile takes the
  stock again if enough is free (the order is reinstated, CONFIRMED); if not, or if the order was cancelled,
  the money is owed back (ORDER_REFUND_DUE). Every payment is applied once, by its id.
- **expired** (`expire_due`): AWAITING_PAYMENT -> EXPIRED once the deadline has passed; the stock and the
  buyer's allowance go back, ORDER_EXPIRED says so. On PostgreSQL the due orders are claimed with
  SKIP LOCKED, so several inventory instances share the work and none releases an order twice.
- **abandoned or cancelled** (cancellation.py): the same release, to CANCELLED.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events, messages, sale_window
from festflow_contracts.channels import ORDER_EVENTS_TOPIC
from festflow_contracts.messages import (
    OrderExpired,
    OrderRefundDue,
    OrderStatus,
    PaymentReceived,
    SoldLine,
    StockLevel,
)
from inventory_service import festival, invoices
from inventory_service.db import buyer_counts, order_items, orders, outbox, payments_applied, tickets
from inventory_service.reservation import SOURCE, Outcome, buyer_keys, sold_event

EXPIRED_REASON = "not paid by its deadline: its tickets are back on sale"
BATCH = 500  # holds released in one transaction


async def expire_due(engine: AsyncEngine, now: datetime | None = None, limit: int = BATCH) -> list[Outcome]:
    """Releases up to `limit` holds whose deadline has passed (the earliest first): each order EXPIRED, its
    stock and allowance back, ORDER_EXPIRED in the outbox, all in one transaction."""
    moment = events.iso(now or datetime.now(UTC))
    async with engine.begin() as conn:
        due = (sa.select(orders.c.order_id).where(orders.c.status == OrderStatus.AWAITING_PAYMENT,
                                                  orders.c.hold_until <= moment)
               .order_by(orders.c.hold_until).limit(limit))
        if conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)  # another instance's claim is left to it
        ids = list((await conn.scalars(due)).all())
        if not ids:
            return []
        # conditional: an order paid or abandoned since it was read stays as it is
        expired = (await conn.execute(
            orders.update().where(orders.c.order_id.in_(ids), orders.c.status == OrderStatus.AWAITING_PAYMENT)
            .values(status=OrderStatus.EXPIRED, reason=EXPIRED_REASON)
            .returning(orders.c.order_id, orders.c.username, orders.c.email, orders.c.hold_until))).mappings().all()
        released = await release(conn, expired)
        outcomes = []
        for order in sorted(expired, key=lambda o: (o["hold_until"], o["order_id"])):
            lines, stock = released[order["order_id"]]
            event = messages.envelope(OrderExpired(
                order_id=order["order_id"], username=order["username"], email=order["email"], items=lines,
                stock=stock, due_at=order["hold_until"], reason=EXPIRED_REASON), SOURCE, subject=order["order_id"])
            outcomes.append(Outcome(order["order_id"], OrderStatus.EXPIRED, EXPIRED_REASON, event))
        await write_events(conn, [o.event for o in outcomes if o.event])
    return outcomes


async def next_deadline(engine: AsyncEngine) -> str | None:
    """The earliest deadline of an order still awaiting payment."""
    async with engine.connect() as conn:
        return await conn.scalar(sa.select(sa.func.min(orders.c.hold_until))
                                 .where(orders.c.status == OrderStatus.AWAITING_PAYMENT))


async def release(conn: AsyncConnection, released_orders: Sequence[Any],
                  only: dict[str, int] | None = None) -> dict[str, tuple[tuple[SoldLine, ...], tuple[StockLevel, ...]]]:
    """Gives the stock and the buyers' allowances of these orders back (rows with order_id, username, email),
    one UPDATE per ticket type and one for the buyers' counts; for each order its lines and the stock now on
    sale of their types. `only` (ticket type -> how many, for one order): just that part of it."""
    ids = [order["order_id"] for order in released_orders]
    rows: Sequence[Any] = (await conn.execute(sa.select(order_items).where(order_items.c.order_id.in_(ids))
                                              .order_by(order_items.c.order_id, order_items.c.ticket_id))
                           ).mappings().all()
    if only is not None:
        rows = [{**row, "quantity": only[row["ticket_id"]]} for row in rows if only.get(row["ticket_id"])]
    by_order: dict[str, list[Any]] = defaultdict(list)
    back: dict[str, int] = defaultdict(int)
    counted: dict[tuple[str, str], int] = defaultdict(int)
    buyers = {order["order_id"]: buyer_keys(order["username"], order["email"]) for order in released_orders}
    for row in rows:
        by_order[row["order_id"]].append(row)
        back[row["ticket_id"]] += row["quantity"]
        for buyer in buyers[row["order_id"]]:
            counted[(row["ticket_id"], buyer)] += row["quantity"]
    stock: dict[str, int] = {}
    for ticket_id in sorted(back):  # always in this order: two releases never wait on each other's rows
        stock[ticket_id] = await conn.scalar(
            sa.update(tickets).where(tickets.c.id == ticket_id)
            .values(stock=tickets.c.stock + back[ticket_id], version=tickets.c.version + 1).returning(tickets.c.stock))
    greatest = sa.func.max if conn.dialect.name == "sqlite" else sa.func.greatest
    if counted:  # one statement for all the buyers' counts (a thousand holds expiring name two thousand)
        await conn.execute(
            buyer_counts.update().where(buyer_counts.c.ticket_id == sa.bindparam("b_ticket"),
                                        buyer_counts.c.username == sa.bindparam("b_buyer"))
            .values(quantity=greatest(buyer_counts.c.quantity - sa.bindparam("b_quantity", type_=sa.Integer), 0)),
            [{"b_ticket": ticket_id, "b_buyer": buyer, "b_quantity": quantity}
             for (ticket_id, buyer), quantity in sorted(counted.items())])
    return {order_id: (tuple(SoldLine(ticket_id=li["ticket_id"], name=li["name"], quantity=li["quantity"],
                                      unit_price_cents=li["unit_price_cents"], vat_rate_bp=li["vat_rate_bp"])
                             for li in by_order[order_id]),
                       tuple(StockLevel(ticket_id=li["ticket_id"], stock=stock[li["ticket_id"]])
                             for li in by_order[order_id]))
            for order_id in ids}


async def write_events(conn: AsyncConnection, emitted: list[dict[str, Any]]) -> None:
    """Writes the events to the outbox, the sales among them numbered (invoices.py)."""
    await invoices.number_sales(conn, emitted)
    if emitted:
        await conn.execute(outbox.insert(), [{"event_id": event["id"], "topic": ORDER_EVENTS_TOPIC,
                                              "key": event["subject"], "payload": events.encode(event).decode()}
                                             for event in emitted])


async def settle_payment(engine: AsyncEngine, payment: PaymentReceived) -> Outcome:
    """Applies a payment to its order once (a payment applied before is a DUPLICATE that changes nothing):
    CONFIRMED (the hold became a sale), REINSTATED (it had expired, the stock was free again), REFUND_DUE
    (nothing to sell it: expired and sold out, cancelled, or paid already) or UNKNOWN (no such order here,
    e.g. one sold without payment)."""
    try:
        async with engine.begin() as conn:
            outcome = await _settle(conn, payment)
            await conn.execute(payments_applied.insert().values(
                payment_id=payment.payment_id, order_id=payment.order_id, outcome=outcome.status,
                applied_at=events.now_iso()))
            await write_events(conn, [outcome.event] if outcome.event else [])
    except IntegrityError:
        async with engine.connect() as conn:
            if await conn.scalar(sa.select(payments_applied.c.outcome)
                                 .where(payments_applied.c.payment_id == payment.payment_id)) is not None:
                return Outcome(payment.order_id, "DUPLICATE")
        raise
    return outcome


async def settle_payments(engine: AsyncEngine, payments: Sequence[PaymentReceived]) -> list[Outcome]:
    """A fetch of payments applied in one transaction, each as `settle_payment` would (in their order): the
    common case, a hold paid in time, a statement for all of them (a statement pays thousands of orders at
    once); any other case one by one within the same transaction. If another instance applied one of them
    meanwhile, they are applied one by one instead."""
    try:
        async with engine.begin() as conn:
            ids = list(dict.fromkeys(p.payment_id for p in payments))
            known = set((await conn.scalars(sa.select(payments_applied.c.payment_id)
                                            .where(payments_applied.c.payment_id.in_(ids)))).all())
            query = sa.select(orders).where(orders.c.order_id.in_(sorted({p.order_id for p in payments})))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            found = {row["order_id"]: row for row in (await conn.execute(query)).mappings().all()}
            outcomes: dict[int, Outcome] = {}
            in_time: dict[int, Any] = {}  # place in the batch -> its order, AWAITING_PAYMENT
            applied_ids, taken = set(known), set()
            for place, payment in enumerate(payments):
                order = found.get(payment.order_id)
                if payment.payment_id in applied_ids:
                    outcomes[place] = Outcome(payment.order_id, "DUPLICATE")
                elif order is not None and order["status"] == OrderStatus.AWAITING_PAYMENT \
                        and payment.order_id not in taken:
                    in_time[place] = order
                    taken.add(payment.order_id)
                applied_ids.add(payment.payment_id)
            if in_time:
                paid = [o["order_id"] for o in in_time.values()]
                await conn.execute(orders.update().where(orders.c.order_id.in_(paid),
                                                         orders.c.status == OrderStatus.AWAITING_PAYMENT)
                                   .values(status=OrderStatus.CONFIRMED, hold_until=None))
                for place, event in zip(in_time, await _sales(conn, list(in_time.values())), strict=True):
                    outcomes[place] = Outcome(payments[place].order_id, OrderStatus.CONFIRMED, None, event)
            for place, payment in enumerate(payments):  # the rest, in order, on what the batch has done so far
                if place not in outcomes:
                    outcomes[place] = await _settle(conn, payment)
            ordered = [outcomes[place] for place in range(len(payments))]
            fresh = [(p, o) for p, o in zip(payments, ordered, strict=True) if o.status != "DUPLICATE"]
            if fresh:
                now = events.now_iso()
                await conn.execute(payments_applied.insert(), [
                    {"payment_id": p.payment_id, "order_id": p.order_id, "outcome": o.status, "applied_at": now}
                    for p, o in fresh])
            await write_events(conn, [o.event for _, o in fresh if o.event])
        return ordered
    except IntegrityError:
        return [await settle_payment(engine, payment) for payment in payments]


async def _sales(conn: AsyncConnection, sold: list[Any]) -> list[dict[str, Any]]:
    """TICKET_SOLD for each of these orders whose hold became a sale, their lines and the stock read once."""
    rows = (await conn.execute(
        sa.select(order_items.c.order_id, order_items.c.ticket_id, order_items.c.name, order_items.c.quantity,
                  order_items.c.unit_price_cents, order_items.c.vat_rate_bp)
        .where(order_items.c.order_id.in_([o["order_id"] for o in sold]))
        .order_by(order_items.c.order_id, order_items.c.ticket_id))).mappings().all()
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        lines[row["order_id"]].append({k: row[k] for k in ("ticket_id", "name", "quantity", "unit_price_cents",
                                                           "vat_rate_bp")})
    stock = dict((await conn.execute(sa.select(tickets.c.id, tickets.c.stock).where(
        tickets.c.id.in_(sorted({row["ticket_id"] for row in rows}))))).all())
    summary, _ = await festival.sale_terms(conn)
    return [sold_event(o["order_id"], o["username"], o["email"], lines[o["order_id"]], o["total_cents"],
                       [{"ticket_id": li["ticket_id"], "stock": stock[li["ticket_id"]]} for li in lines[o["order_id"]]],
                       summary) for o in sold]


async def _settle(conn: AsyncConnection, payment: PaymentReceived) -> Outcome:
    query = sa.select(orders).where(orders.c.order_id == payment.order_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # the expiry and an abandonment wait for this payment, or it for them
    order = (await conn.execute(query)).mappings().first()
    if order is None:
        return Outcome(payment.order_id, "UNKNOWN", "no order awaiting payment has this id")
    if order["status"] == OrderStatus.AWAITING_PAYMENT:
        await conn.execute(orders.update().where(orders.c.order_id == payment.order_id,
                                                 orders.c.status == OrderStatus.AWAITING_PAYMENT)
                           .values(status=OrderStatus.CONFIRMED, hold_until=None))
        return Outcome(payment.order_id, OrderStatus.CONFIRMED, None, (await _sales(conn, [order]))[0])
    if order["status"] == OrderStatus.EXPIRED:
        _, terms = await festival.sale_terms(conn)
        latest = sale_window.moment(order["hold_until"] or payment.received_at) + timedelta(days=terms.late_days)
        if sale_window.moment(payment.received_at) > latest:
            return _refund_due(order, payment, f"paid more than {terms.late_days} days after its deadline: the "
                                               "payment will be refunded")
        shortage = await _take_again(conn, order)
        if shortage is None:
            await conn.execute(orders.update().where(orders.c.order_id == payment.order_id,
                                                     orders.c.status == OrderStatus.EXPIRED)
                               .values(status=OrderStatus.CONFIRMED, reason=None, hold_until=None))
            return Outcome(payment.order_id, "REINSTATED", None, (await _sales(conn, [order]))[0])
        return _refund_due(order, payment, f"paid after its deadline, when {shortage}: the payment will be refunded")
    if order["status"] == OrderStatus.CANCELLED:
        return _refund_due(order, payment, "paid after it was cancelled: the payment will be refunded")
    if order["status"] == OrderStatus.CONFIRMED:
        return _refund_due(order, payment, "paid already: this second payment will be refunded")
    return _refund_due(order, payment, f"the order is {order['status']}: the payment will be refunded")


def _refund_due(order: Any, payment: PaymentReceived, reason: str) -> Outcome:
    event = messages.envelope(OrderRefundDue(
        order_id=order["order_id"], username=order["username"], email=order["email"],
        amount_cents=payment.amount_cents, currency=payment.currency, reason=reason, method=payment.method,
        payment_id=payment.payment_id), SOURCE, subject=order["order_id"])
    return Outcome(order["order_id"], "REFUND_DUE", reason, event)


async def _lines(conn: AsyncConnection, order_id: str) -> list[dict[str, Any]]:
    return [dict(row) for row in (await conn.execute(
        sa.select(order_items.c.ticket_id, order_items.c.name, order_items.c.quantity, order_items.c.unit_price_cents,
                  order_items.c.vat_rate_bp)
        .where(order_items.c.order_id == order_id).order_by(order_items.c.ticket_id))).mappings().all()]


async def _take_again(conn: AsyncConnection, order: Any) -> str | None:
    """Takes an expired order's stock again (all lines or none, each one conditional UPDATE) and counts it
    against the buyer's allowance again; None when it did, otherwise what is short."""
    undo = await conn.begin_nested()
    for line in await _lines(conn, order["order_id"]):
        taken = await conn.execute(sa.update(tickets).where(tickets.c.id == line["ticket_id"],
                                                            tickets.c.stock >= line["quantity"])
                                   .values(stock=tickets.c.stock - line["quantity"], version=tickets.c.version + 1))
        if taken.rowcount != 1:
            await undo.rollback()
            return f"{line['name']} had too few left"
        for buyer in buyer_keys(order["username"], order["email"]):
            counted = await conn.execute(buyer_counts.update().where(buyer_counts.c.ticket_id == line["ticket_id"],
                                                                     buyer_counts.c.username == buyer)
                                         .values(quantity=buyer_counts.c.quantity + line["quantity"]))
            if counted.rowcount == 0:
                await conn.execute(buyer_counts.insert().values(ticket_id=line["ticket_id"], username=buyer,
                                                                quantity=line["quantity"]))
    await undo.commit()
    return None
