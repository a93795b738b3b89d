"""Cancelling a confirmed order, in one transaction: the order is marked CANCELLED (only a CONFIRMED one
changes, so a redelivered command does nothing), every item's quantity goes back to its stock, and the
ORDER_CANCELLED event (with the stock now on sale) is written to the outbox."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.channels import ORDER_EVENTS_TOPIC
from festflow_contracts.messages import CancelOrder, OrderCancelled, OrderStatus, SoldLine, StockLevel
from inventory_service.db import buyer_counts, order_items, orders, outbox, tickets
from inventory_service.reservation import SOURCE, Outcome, buyer_keys


async def cancel_order(engine: AsyncEngine, command: CancelOrder) -> Outcome:
    async with engine.begin() as conn:
        cancelled = await conn.execute(
            orders.update().where(orders.c.order_id == command.order_id, orders.c.status == OrderStatus.CONFIRMED)
            .values(status=OrderStatus.CANCELLED, reason=command.reason))
        if cancelled.rowcount != 1:
            return Outcome(command.order_id, "DUPLICATE")  # cancelled before, or never confirmed here
        lines = (await conn.execute(sa.select(order_items).where(order_items.c.order_id == command.order_id)
                                    .order_by(order_items.c.ticket_id))).mappings().all()
        username = await conn.scalar(sa.select(orders.c.username).where(orders.c.order_id == command.order_id))
        stock: list[dict[str, Any]] = []
        buyers = buyer_keys(str(username), command.email)  # the account's allowance back, and its mailbox's
        for line in lines:
            await conn.execute(buyer_counts.update().where(buyer_counts.c.ticket_id == line["ticket_id"],
                                                           buyer_counts.c.username.in_(buyers))
                               .values(quantity=sa.func.max(buyer_counts.c.quantity - line["quantity"], 0)
                                       if conn.dialect.name == "sqlite"
                                       else sa.func.greatest(buyer_counts.c.quantity - line["quantity"], 0)))
            left = await conn.scalar(sa.update(tickets).where(tickets.c.id == line["ticket_id"])
                                     .values(stock=tickets.c.stock + line["quantity"],
                                             version=tickets.c.version + 1).returning(tickets.c.stock))
            stock.append({"ticket_id": line["ticket_id"], "stock": left})
        event = messages.envelope(OrderCancelled(
            order_id=command.order_id, username=command.username, email=command.email, reason=command.reason,
            items=tuple(SoldLine(ticket_id=li["ticket_id"], name=li["name"], quantity=li["quantity"],
                                 unit_price_cents=li["unit_price_cents"]) for li in lines),
            stock=tuple(StockLevel(**level) for level in stock)), SOURCE, subject=command.order_id)
        await conn.execute(outbox.insert().values(event_id=event["id"], topic=ORDER_EVENTS_TOPIC,
                                                  key=command.order_id, payload=events.encode(event).decode()))
    return Outcome(command.order_id, "CANCELLED", command.reason, event)
