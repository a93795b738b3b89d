"""An organiser cancels a confirmed order: the CANCEL_ORDER command goes into the command outbox (the
relay sends it to the inventory, which gives the stock back and says so with ORDER_CANCELLED; the tickets
become void and the buyer gets a mail from there). The order shows CANCELLED once that event is heard."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.messages import CancelOrder, OrderStatus
from order_service.db import command_outbox, orders, users
from order_service.ordering import SOURCE, OrderRefused


class NotCancellable(OrderRefused):
    status = 409


class NoSuchOrder(OrderRefused):
    status = 404


async def request_cancel(engine: AsyncEngine, order_id: str, reason: str) -> dict[str, Any]:
    async with engine.begin() as conn:
        row = (await conn.execute(sa.select(orders.c.order_id, orders.c.status, orders.c.username, users.c.email)
                                  .select_from(orders.outerjoin(users, users.c.username == orders.c.username))
                                  .where(orders.c.order_id == order_id))).mappings().first()
        if row is None:
            raise NoSuchOrder("no such order")
        if row["status"] == OrderStatus.PENDING:
            raise NotCancellable("this order is not settled yet; cancel it once it is confirmed")
        if row["status"] != OrderStatus.CONFIRMED:
            raise NotCancellable(f"this order is {row['status']}: there is nothing to cancel")
        command = messages.envelope(CancelOrder(order_id=order_id, username=row["username"], email=row["email"] or "",
                                                reason=reason), SOURCE, subject=order_id)
        await conn.execute(command_outbox.insert().values(
            message_id=f"cancel:{order_id}", type=events.CANCEL_ORDER, payload=events.encode(command).decode(),
            created_at=events.now_iso()))
    return {"order_id": order_id, "status": row["status"], "cancellation": "requested"}
