"""Cancelling an order, in one transaction: a confirmed one (the organiser) or one still awaiting payment
(the organiser, or the buyer abandoning it). The order is marked CANCELLED (only a CONFIRMED or
AWAITING_PAYMENT one changes, so a redelivered command does nothing), every item's quantity goes back to its
stock and the buyer's allowance (holds.release), and ORDER_CANCELLED (with the stock now on sale) is written
to the outbox.

Some tickets of a confirmed order (`CancelOrder.tickets`): each cancelled ticket is recorded by its code (a
redelivered command finds them and does nothing), its line's quantity goes down, that many go back on sale,
and ORDER_CANCELLED names the codes and what they cost (the part of the payment owed back); the order stays
CONFIRMED, or is CANCELLED when no ticket is left (and ORDER_CANCELLED then names no codes: the whole order)."""
from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.messages import CancelOrder, OrderCancelled, OrderStatus
from inventory_service.db import cancelled_tickets, order_items, orders
from inventory_service.holds import release, write_events
from inventory_service.reservation import SOURCE, Outcome


async def cancel_order(engine: AsyncEngine, command: CancelOrder) -> Outcome:
    async with engine.begin() as conn:
        if command.tickets:
            return await _cancel_some(conn, command)
        cancellable = (orders.c.order_id == command.order_id,
                       orders.c.status.in_([OrderStatus.CONFIRMED, OrderStatus.AWAITING_PAYMENT]))
        row = (await conn.execute(sa.select(orders.c.status, orders.c.total_cents).where(*cancellable))).first()
        status = row.status if row else None
        cancelled = await conn.execute(orders.update().where(*cancellable, orders.c.status == status)
                                       .values(status=OrderStatus.CANCELLED, reason=command.reason, hold_until=None))
        if row is None or cancelled.rowcount != 1:
            return Outcome(command.order_id, "DUPLICATE")  # cancelled before, or never confirmed nor held here
        username = await conn.scalar(sa.select(orders.c.username).where(orders.c.order_id == command.order_id))
        released = await release(conn, [{"order_id": command.order_id, "username": str(username),
                                         "email": command.email}])
        lines, stock = released[command.order_id]
        unpaid = status == OrderStatus.AWAITING_PAYMENT
        event = messages.envelope(OrderCancelled(
            order_id=command.order_id, username=command.username, email=command.email, reason=command.reason,
            items=lines, stock=stock, unpaid=unpaid, refund_cents=0 if unpaid else row.total_cents),
            SOURCE, subject=command.order_id)
        await write_events(conn, [event])
    return Outcome(command.order_id, "CANCELLED", command.reason, event)


async def _cancel_some(conn: AsyncConnection, command: CancelOrder) -> Outcome:
    order = (await conn.execute(sa.select(orders).where(orders.c.order_id == command.order_id,
                                                        orders.c.status == OrderStatus.CONFIRMED))).mappings().first()
    if order is None:
        return Outcome(command.order_id, "DUPLICATE")  # not confirmed (any more) here
    wanted = Counter(ticket.ticket_id for ticket in command.tickets)
    have = dict((await conn.execute(sa.select(order_items.c.ticket_id, order_items.c.quantity)
                                    .where(order_items.c.order_id == command.order_id))).all())
    if any(have.get(ticket_id, 0) < count for ticket_id, count in wanted.items()):
        return Outcome(command.order_id, "DUPLICATE", "the order has not that many of these tickets (any more)")
    undo = await conn.begin_nested()
    try:
        await conn.execute(cancelled_tickets.insert(), [
            {"code": t.code, "order_id": command.order_id, "ticket_id": t.ticket_id, "cancelled_at": events.now_iso()}
            for t in command.tickets])
    except IntegrityError:
        await undo.rollback()
        return Outcome(command.order_id, "DUPLICATE")  # these tickets were cancelled before (a redelivery)
    await undo.commit()
    released = await release(conn, [order], only=dict(wanted))
    lines, stock = released[command.order_id]
    for ticket_id, count in wanted.items():
        await conn.execute(order_items.update().where(order_items.c.order_id == command.order_id,
                                                      order_items.c.ticket_id == ticket_id)
                           .values(quantity=order_items.c.quantity - count))
    refund = sum(line.quantity * line.unit_price_cents for line in lines)
    left = sum(have.values()) - sum(wanted.values())
    await conn.execute(orders.update().where(orders.c.order_id == command.order_id).values(
        total_cents=orders.c.total_cents - refund,
        **({"status": OrderStatus.CANCELLED, "reason": command.reason} if left == 0 else {})))
    event = messages.envelope(OrderCancelled(
        order_id=command.order_id, username=command.username, email=command.email, reason=command.reason,
        items=lines, stock=stock, refund_cents=refund,
        codes=tuple(t.code for t in command.tickets) if left else ()),  # none left: the whole order is cancelled
        SOURCE, subject=command.order_id)
    await write_events(conn, [event])
    return Outcome(command.order_id, "CANCELLED", command.reason, event)
