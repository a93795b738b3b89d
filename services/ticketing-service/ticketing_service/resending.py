"""An order's tickets mailed again, as they are now (the organiser's "send the tickets again")."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import messages
from festflow_contracts.channels import TICKET_EVENTS_TOPIC
from festflow_contracts.messages import IssuedTicket, TicketsResent
from festflow_runtime import outbox
from ticketing_service.db import event_outbox, tickets
from ticketing_service.issuing import SOURCE


async def resend(engine: AsyncEngine, order_id: str) -> bool:
    """Queues the order's tickets, as they are now, for another mail (TICKETS_RESENT). False if the
    order has no tickets."""
    async with engine.begin() as conn:
        rows = (await conn.execute(sa.select(tickets).where(tickets.c.order_id == order_id)
                                   .order_by(tickets.c.position))).mappings().all()
        if not rows:
            return False
        first = rows[0]
        event = messages.envelope(TicketsResent(
            order_id=order_id, username=first["username"], email=first["email"],
            festival=first["festival"],
            tickets=tuple(IssuedTicket(code=r["code"], ticket_id=r["ticket_id"], name=r["name"], holder=r["holder"],
                                       status=r["status"], qr=r["qr"]) for r in rows)), SOURCE, subject=order_id)
        await outbox.emit(conn, event_outbox, TICKET_EVENTS_TOPIC, order_id, event)
    return True
