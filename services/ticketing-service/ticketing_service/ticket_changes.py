"""Changes to issued tickets, each told to the others as it happens (TICKET_UPDATED through the outbox):
the holder's name on a ticket, and a cancelled order's tickets made void. Check-in, the third change,
is in checkin.py."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import messages
from festflow_contracts.channels import TICKET_EVENTS_TOPIC
from festflow_contracts.messages import TicketStatus, TicketUpdated, TicketUpdateKind
from festflow_runtime import outbox
from ticketing_service.db import event_outbox, tickets
from ticketing_service.issuing import SOURCE, ticket_view


async def announce(conn: Any, row: Any, change: TicketUpdateKind) -> None:
    """The ticket's change, in the transaction that made it, to the event outbox (TICKET_UPDATED)."""
    event = messages.envelope(TicketUpdated(code=row["code"], order_id=row["order_id"], ticket_id=row["ticket_id"],
                                            status=row["status"], holder=row["holder"], used_at=row["used_at"],
                                            gate=row["gate"], change=change), SOURCE, subject=row["order_id"])
    await outbox.emit(conn, event_outbox, TICKET_EVENTS_TOPIC, row["order_id"], event)


async def set_holder(engine: AsyncEngine, code: str, holder: str) -> dict[str, Any] | None:
    """Puts a holder's name on a valid ticket; None if there is no such ticket."""
    async with engine.begin() as conn:
        await conn.execute(tickets.update().where(tickets.c.code == code, tickets.c.status == TicketStatus.VALID)
                           .values(holder=holder))
        row = (await conn.execute(sa.select(tickets).where(tickets.c.code == code))).mappings().first()
        if row is None:
            return None
        if row["holder"] == holder:
            await announce(conn, row, TicketUpdateKind.HOLDER)
    return ticket_view(row)


async def void_order(engine: AsyncEngine, order_id: str, codes: Sequence[str] = ()) -> int:
    """Its order was cancelled: every ticket of it is void (a gate refuses it with 410), or only the tickets
    `codes` when only they were cancelled. Returns how many changed (none for a redelivered cancellation)."""
    async with engine.begin() as conn:
        which = [tickets.c.order_id == order_id, tickets.c.status != TicketStatus.VOID]
        if codes:
            which.append(tickets.c.code.in_(list(codes)))
        rows = (await conn.execute(sa.select(tickets).where(*which).order_by(tickets.c.position))).mappings().all()
        if not rows:
            return 0
        await conn.execute(tickets.update().where(*which).values(status=TicketStatus.VOID))
        for row in rows:
            await announce(conn, {**row, "status": TicketStatus.VOID}, TicketUpdateKind.VOID)
    return len(rows)
