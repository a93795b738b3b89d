"""Invoice and credit-note numbers: every sale of an order with something to pay takes the next invoice number,
and every cancellation of something paid (a whole order, or some of its tickets) the next credit-note number, in
the transaction that makes it, so each series runs without gaps (a sale rolled back gives its number back with
it) and no two share one, whichever inventory instance makes them. The events carry them
(TicketSold.invoice_number, OrderCancelled.credit_note_number); the order service makes the documents."""
from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from festflow_contracts import events
from inventory_service.db import invoice_counter

PREFIX = "INV-"
CREDIT_PREFIX = "CN-"
INVOICES, CREDIT_NOTES = 1, 2  # the counters' rows


async def take_numbers(conn: AsyncConnection, count: int, series: int = INVOICES) -> list[str]:
    """The next `count` numbers of a series, taken in the caller's transaction (the counter row stays locked
    until it ends: documents are numbered in the order they commit)."""
    if count <= 0:
        return []
    last = await conn.scalar(invoice_counter.update().where(invoice_counter.c.id == series)
                             .values(last=invoice_counter.c.last + count).returning(invoice_counter.c.last))
    if last is None:  # a database older than the counter
        await conn.execute(invoice_counter.insert().values(id=series, last=count))
        last = count
    prefix = PREFIX if series == INVOICES else CREDIT_PREFIX
    return [f"{prefix}{number:06d}" for number in range(last - count + 1, last + 1)]


async def number_sales(conn: AsyncConnection, emitted: list[dict[str, Any]]) -> None:
    """Gives each sale among these events (TICKET_SOLD with something to pay) the next invoice number, and each
    cancellation of something paid (ORDER_CANCELLED with a refund) the next credit-note number, in order."""
    sales = [event for event in emitted
             if event["type"] == events.ORDER_CONFIRMED and event["data"]["total_cents"] > 0]
    for event, number in zip(sales, await take_numbers(conn, len(sales)), strict=True):
        event["data"]["invoice_number"] = number
    credits = [event for event in emitted
               if event["type"] == events.ORDER_CANCELLED and event["data"].get("refund_cents", 0) > 0]
    for event, number in zip(credits, await take_numbers(conn, len(credits), CREDIT_NOTES), strict=True):
        event["data"]["credit_note_number"] = number

