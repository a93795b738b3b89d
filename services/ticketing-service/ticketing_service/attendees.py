"""The attendee list: every ticket with its holder, buyer, order and check-in (the organiser's CSV)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ticketing_service.db import tickets

ATTENDEE_COLUMNS = ("code", "ticket_id", "name", "holder", "username", "email", "order_id", "status", "used_at",
                    "gate")


async def attendees(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(*(tickets.c[c] for c in ATTENDEE_COLUMNS))
                                   .order_by(tickets.c.name, tickets.c.issued_at, tickets.c.position))).mappings()
        return [dict(row) for row in rows]
