"""What the payment service hears of orders (Kafka, the inventory's order events): an order held for a bank
transfer is awaited (its reference then matches statement lines); a payment the order could not take is
marked to be refunded. Every other event is none of its business."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.messages import OrderHeld, OrderRefundDue, PaymentMethod
from payment_service.bank_transfers import Awaited, expect_payments, owe_back

log = logging.getLogger("payment_service.orders")
WANTED = (events.ORDER_HELD, events.ORDER_REFUND_DUE)


def on_order_events(engine: AsyncEngine):
    """A fetch of order events, in order: the holds awaited in one transaction, each refund marked."""
    async def handle(batch: list[dict[str, Any]]) -> None:
        wanted = [messages.parse_any(event) for event in batch if event.get("type") in WANTED]
        held = [Awaited(m.order_id, m.total_cents, m.currency, m.due_at) for m in wanted
                if isinstance(m, OrderHeld) and m.method == PaymentMethod.BANK_TRANSFER]
        if held:
            await expect_payments(engine, held)
        for message in wanted:
            if isinstance(message, OrderRefundDue):
                await owe_back(engine, message.order_id, message.reason)
                log.warning("order %s: %s", message.order_id[:8], message.reason)
    return handle
