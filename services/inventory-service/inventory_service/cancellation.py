"""Cancelling an order, in one transaction: a confirmed one (the organiser) or one still awaiting payment
(the organiser, or the buyer abandoning it). The order is marked CANCELLED (only a CONFIRMED or
AWAITING_PAYMENT one changes, so a redelivered command does nothing), every item's quantity goes back to its
stock and the buyer's allowance (holds.release), and ORDER_CANCELLED (with the stock now on sale) is written
to the outbox."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import messages
from festflow_contracts.messages import CancelOrder, OrderCancelled, OrderStatus
from inventory_service.db import orders
from inventory_service.holds import release, write_events
from inventory_service.reservation import SOURCE, Outcome


async def cancel_order(engine: AsyncEngine, command: CancelOrder) -> Outcome:
    async with engine.begin() as conn:
        cancellable = (orders.c.order_id == command.order_id,
                       orders.c.status.in_([OrderStatus.CONFIRMED, OrderStatus.AWAITING_PAYMENT]))
        status = await conn.scalar(sa.select(orders.c.status).where(*cancellable))
        cancelled = await conn.execute(orders.update().where(*cancellable, orders.c.status == status)
                                       .values(status=OrderStatus.CANCELLED, reason=command.reason, hold_until=None))
        if status is None or cancelled.rowcount != 1:
            return Outcome(command.order_id, "DUPLICATE")  # cancelled before, or never confirmed nor held here
        username = await conn.scalar(sa.select(orders.c.username).where(orders.c.order_id == command.order_id))
        released = await release(conn, [{"order_id": command.order_id, "username": str(username),
                                         "email": command.email}])
        lines, stock = released[command.order_id]
        event = messages.envelope(OrderCancelled(
            order_id=command.order_id, username=command.username, email=command.email, reason=command.reason,
            items=lines, stock=stock, unpaid=status == OrderStatus.AWAITING_PAYMENT), SOURCE, subject=command.order_id)
        await write_events(conn, [event])
    return Outcome(command.order_id, "CANCELLED", command.reason, event)
