"""A buyer whose order is held for a card payment pays it by bank transfer instead: the PAY_BY_BANK_TRANSFER
command goes into the command outbox (the relay takes it to the inventory, which makes the hold last the
festival's transfer term and announces it with a new ORDER_HELD). The order's `payment` shows the transfer,
its account and its later deadline once that event is heard; asking again meanwhile answers the same."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.messages import OrderStatus, PayByBankTransfer, PaymentMethod
from order_service.cancellation import NoSuchOrder, NotCancellable
from order_service.db import command_outbox, orders
from order_service.ordering import SOURCE


def transfer_refusal(order: dict[str, Any], now: str) -> str | None:
    """Why this order cannot be switched to a bank transfer, or None."""
    payment = order.get("payment") or {}
    if order["status"] != OrderStatus.AWAITING_PAYMENT:
        return f"this order is {order['status']}: only an order awaiting payment can be paid by bank transfer"
    if payment.get("method") == PaymentMethod.BANK_TRANSFER:
        return "this order is paid by bank transfer already"
    if not payment.get("iban"):
        return "the festival takes no bank transfers: pay this order by card"
    if str(payment.get("due_at") or "") <= now:
        return "the hold of this order has run out"
    return None


async def request_bank_transfer(engine: AsyncEngine, order_id: str, buyer: str) -> dict[str, Any]:
    """Asks the inventory to hold the buyer's card order for the transfer term: NoSuchOrder (404) for another's
    order, NotCancellable (409) with the reason when it cannot be switched (transfer_refusal)."""
    async with engine.begin() as conn:
        row = (await conn.execute(sa.select(orders.c.order_id, orders.c.status, orders.c.payment).where(
            orders.c.order_id == order_id, orders.c.username == buyer))).mappings().first()
        if row is None:
            raise NoSuchOrder("no such order")
        refusal = transfer_refusal(dict(row), events.now_iso())
        if refusal:
            raise NotCancellable(refusal)
        command = messages.envelope(PayByBankTransfer(order_id=order_id, username=buyer), SOURCE, subject=order_id)
        message_id = f"transfer:{order_id}"
        if await conn.scalar(sa.select(command_outbox.c.seq).where(command_outbox.c.message_id == message_id)) is None:
            await conn.execute(command_outbox.insert().values(
                message_id=message_id, type=events.PAY_BY_BANK_TRANSFER, payload=events.encode(command).decode(),
                created_at=events.now_iso()))
        # else: asked before, the same command is on its way (or has been applied)
    return {"order_id": order_id, "method": PaymentMethod.BANK_TRANSFER, "requested": True}
