"""Invoice numbers: every sale of an order with something to pay takes the next number, in the transaction that
makes the sale, so the numbers run without gaps (a sale rolled back gives its number back with it) and no two
sales share one, whichever inventory instance makes them. The sale's event carries it (TicketSold.invoice_number);
the order service makes the invoice from the event."""
from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from festflow_contracts import events
from inventory_service.db import invoice_counter

PREFIX = "INV-"


async def take_numbers(conn: AsyncConnection, count: int) -> list[str]:
    """The next `count` invoice numbers, taken in the caller's transaction (the counter row stays locked until
    it ends: sales are numbered in the order they commit)."""
    if count <= 0:
        return []
    last = await conn.scalar(invoice_counter.update().where(invoice_counter.c.id == 1)
                             .values(last=invoice_counter.c.last + count).returning(invoice_counter.c.last))
    if last is None:  # a database older than the counter
        await conn.execute(invoice_counter.insert().values(id=1, last=count))
        last = count
    return [f"{PREFIX}{number:06d}" for number in range(last - count + 1, last + 1)]


async def number_sales(conn: AsyncConnection, emitted: list[dict[str, Any]]) -> None:
    """Gives each sale among these events (TICKET_SOLD with something to pay) the next invoice number, in order."""
    sales = [event for event in emitted
             if event["type"] == events.ORDER_CONFIRMED and event["data"]["total_cents"] > 0]
    for event, number in zip(sales, await take_numbers(conn, len(sales)), strict=True):
        event["data"]["invoice_number"] = number

