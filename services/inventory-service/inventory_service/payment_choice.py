"""The buyer of an order held for a card payment pays it by bank transfer instead (PayByBankTransfer): the hold
then lasts the festival's payment term for transfers, counted from the order, and a new ORDER_HELD (method
bank_transfer, the later deadline, the account to pay into) says so.

One conditional UPDATE: only an order still AWAITING_PAYMENT by card whose deadline has not passed changes, so
a redelivered command, or one that comes after the order was paid, expired or abandoned, changes nothing. The
expiry (holds.expire_due) claims the same row, so the two never both win.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events, sale_window
from festflow_contracts.messages import OrderStatus, PayByBankTransfer, PaymentMethod
from inventory_service import festival
from inventory_service.db import order_items, orders, tickets
from inventory_service.holds import write_events
from inventory_service.reservation import Outcome, held_event

NO_ACCOUNT = "the festival takes no bank transfers"


async def pay_by_bank_transfer(engine: AsyncEngine, command: PayByBankTransfer,
                               now: datetime | None = None) -> Outcome:
    """TRANSFER (the hold now lasts the transfer term, ORDER_HELD in the outbox), or UNCHANGED with the reason:
    no such order of this buyer, not held for a card payment (any more), its deadline passed, no account."""
    moment = events.iso(now or datetime.now(UTC))
    async with engine.begin() as conn:
        summary, terms = await festival.sale_terms(conn)
        if terms.pay_to is None:
            return Outcome(command.order_id, "UNCHANGED", NO_ACCOUNT)
        order = (await conn.execute(sa.select(orders).where(orders.c.order_id == command.order_id,
                                                            orders.c.username == command.username))
                 ).mappings().first()
        if order is None:
            return Outcome(command.order_id, "UNCHANGED", "no such order")
        due = events.iso(sale_window.moment(order["processed_at"]) + timedelta(days=terms.transfer_days))
        changed = await conn.execute(
            orders.update().where(orders.c.order_id == command.order_id,
                                  orders.c.status == OrderStatus.AWAITING_PAYMENT,
                                  orders.c.method == PaymentMethod.CARD, orders.c.hold_until > moment)
            .values(method=PaymentMethod.BANK_TRANSFER, hold_until=due))
        if changed.rowcount != 1:
            return Outcome(command.order_id, "UNCHANGED",
                           f"the order is {order['status']}" if order["status"] != OrderStatus.AWAITING_PAYMENT
                           else "its hold has run out" if (order["hold_until"] or "") <= moment
                           else "it is paid by bank transfer already")
        lines = [dict(row) for row in (await conn.execute(
            sa.select(order_items.c.ticket_id, order_items.c.name, order_items.c.quantity,
                      order_items.c.unit_price_cents, order_items.c.vat_rate_bp)
            .where(order_items.c.order_id == command.order_id).order_by(order_items.c.ticket_id))).mappings()]
        stock = dict((await conn.execute(sa.select(tickets.c.id, tickets.c.stock).where(
            tickets.c.id.in_([line["ticket_id"] for line in lines])))).all())
        event = held_event(order["order_id"], order["username"], order["email"], lines, order["total_cents"],
                           [{"ticket_id": line["ticket_id"], "stock": stock[line["ticket_id"]]} for line in lines],
                           summary, terms.pay_to, PaymentMethod.BANK_TRANSFER, due)
        await write_events(conn, [event])
    return Outcome(command.order_id, "TRANSFER", None, event)
