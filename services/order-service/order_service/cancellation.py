"""An organiser cancels a confirmed order or one awaiting payment, or a buyer abandons their own unpaid order:
the CANCEL_ORDER command goes into the command outbox (the relay sends it to the inventory, which gives the
stock back and says so with ORDER_CANCELLED; the tickets become void and the buyer gets a mail from there).
The order shows CANCELLED once that event is heard."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.messages import CancelledTicket, CancelOrder, OrderStatus
from order_service.db import command_outbox, orders, users
from order_service.ordering import SOURCE, OrderRefused


class NotCancellable(OrderRefused):
    status = 409


class NoSuchOrder(OrderRefused):
    status = 404


ABANDONED = "abandoned by the buyer before paying"


async def request_cancel(engine: AsyncEngine, order_id: str, reason: str, buyer: str | None = None,
                         tickets: Sequence[str] = ()) -> dict[str, Any]:
    """The organiser's cancellation (any buyer's order, confirmed or awaiting payment; with `tickets`, their
    codes, only those tickets of a confirmed order), or with `buyer` that buyer abandoning their own order
    awaiting payment (another's is a 404, as if it did not exist)."""
    async with engine.begin() as conn:
        query = (sa.select(orders.c.order_id, orders.c.status, orders.c.username, orders.c.tickets, users.c.email)
                 .select_from(orders.outerjoin(users, users.c.username == orders.c.username))
                 .where(orders.c.order_id == order_id))
        if buyer is not None:
            query = query.where(orders.c.username == buyer)
        row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise NoSuchOrder("no such order")
        if row["status"] == OrderStatus.PENDING:
            raise NotCancellable("this order is not settled yet; try again in a moment")
        allowed = [OrderStatus.AWAITING_PAYMENT] if buyer else [OrderStatus.CONFIRMED, OrderStatus.AWAITING_PAYMENT]
        if row["status"] not in allowed:
            raise NotCancellable(f"this order is {row['status']}: there is nothing to "
                                 + ("abandon (only an unpaid order can be)" if buyer else "cancel"))
        some = _chosen(row, tickets) if tickets else ()
        command = messages.envelope(CancelOrder(order_id=order_id, username=row["username"], email=row["email"] or "",
                                                reason=reason, tickets=some), SOURCE, subject=order_id)
        part = ":" + hashlib.sha256(",".join(sorted(tickets)).encode()).hexdigest()[:16] if tickets else ""
        await conn.execute(command_outbox.insert().values(
            message_id=f"cancel:{order_id}{part}", type=events.CANCEL_ORDER, payload=events.encode(command).decode(),
            created_at=events.now_iso()))
    return {"order_id": order_id, "status": row["status"], "cancellation": "requested"}


def _chosen(order: Any, codes: Sequence[str]) -> tuple[CancelledTicket, ...]:
    """The order's valid tickets of these codes (each once); InvalidTickets naming a code that is none of them."""
    if order["status"] != OrderStatus.CONFIRMED:
        raise NotCancellable("only a confirmed order's tickets are cancelled one by one")
    valid = {t["code"]: t["ticket_id"] for t in order["tickets"] or [] if t.get("status") == "valid"}
    unknown = [code for code in codes if code not in valid]
    if unknown:
        raise InvalidTickets(f"tickets: {', '.join(unknown[:5])} is none of this order's valid tickets")
    return tuple(CancelledTicket(code=code, ticket_id=valid[code]) for code in dict.fromkeys(codes))


class InvalidTickets(OrderRefused):
    status = 422
