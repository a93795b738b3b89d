"""What the payment service hears of orders (Kafka, the inventory's order events): an order held for payment is
awaited (its reference then matches statement lines, and its buyer may pay it by card); a sale of an order
authorised by card is captured; a payment the order could not take is marked to be refunded (a card
authorisation is cancelled); a paid order cancelled owes its money back (refunds.py). Every other event is none
of its business."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.messages import OrderCancelled, OrderHeld, OrderRefundDue, PaymentMethod, TicketSold
from payment_service import card_payments, refunds
from payment_service.bank_transfers import Awaited, expect_payments, owe_back

log = logging.getLogger("payment_service.orders")
WANTED = (events.ORDER_HELD, events.ORDER_REFUND_DUE, events.ORDER_CONFIRMED, events.ORDER_CANCELLED)


def on_order_events(engine: AsyncEngine, on_card_action: Callable[[], None] = lambda: None):
    """A fetch of order events, in order: the holds awaited in one transaction, each sale and refund applied to
    the order's card payment (`on_card_action` wakes the worker that asks Stripe), each refund marked."""
    async def handle(batch: list[dict[str, Any]]) -> None:
        wanted = [messages.parse_any(event) for event in batch
                  if events.current_type(event.get("type", "")) in WANTED]
        held = [Awaited(m.order_id, m.total_cents, m.currency, m.due_at, m.username, m.pay_to) for m in wanted
                if isinstance(m, OrderHeld)]
        if held:
            await expect_payments(engine, held)
        decided = [m for m in wanted if isinstance(m, TicketSold | OrderRefundDue)
                   or (isinstance(m, OrderCancelled) and not m.unpaid)]
        if decided:
            async with engine.begin() as conn:
                for one in decided:
                    if isinstance(one, OrderCancelled):  # a paid order cancelled (or a part): its money goes back
                        await refunds.owe_back_cancelled(conn, one)
                    else:
                        await card_payments.on_order_event(conn, one)
            on_card_action()
        for message in wanted:
            if isinstance(message, OrderRefundDue):
                if message.method == PaymentMethod.BANK_TRANSFER:  # a card's is cancelled or refunded by the worker
                    async with engine.begin() as conn:
                        await owe_back(conn, message.order_id, message.reason)
                        await refunds.owe(conn, f"due:{message.payment_id or message.order_id}", message.order_id,
                                          PaymentMethod.BANK_TRANSFER, message.amount_cents, message.currency,
                                          message.reason)
                log.warning("order %s: %s", message.order_id[:8], message.reason)
    return handle
