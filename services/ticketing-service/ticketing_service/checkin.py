"""Check-in at the gate: a scan admits a valid ticket once; and the gate's counts per ticket type.

The scan's payload is the QR code's signed text (or, typed by hand, the ticket's code). A signed payload
is verified first (422 if it does not verify). Admission is one conditional UPDATE (`status = 'valid'`),
so two gates scanning the same ticket at the same moment admit it exactly once; the other is told when
and where it was used (409). An unknown code is 404, a void ticket (its order cancelled) 410.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events
from festflow_contracts.messages import TicketStatus, TicketUpdateKind
from ticketing_service.db import tickets
from ticketing_service.issuing import ticket_view
from ticketing_service.signing import ForgedTicket, TicketSigner
from ticketing_service.ticket_changes import announce

CODE = re.compile(r"^[A-Z0-9]{20}$")


@dataclass(frozen=True)
class Scan:
    status: int  # the HTTP status that says it
    result: str  # admitted | already_used | void | unknown | forged
    ticket: dict[str, Any] | None = None
    detail: str = ""


async def scan(engine: AsyncEngine, payload: str, gate: str, signer: TicketSigner, festival_id: str,
               now: str | None = None) -> Scan:
    text = payload.strip()
    if CODE.fullmatch(text.upper()):
        code = text.upper()  # typed by hand from the ticket
    else:
        try:
            signed = signer.verify(text)
        except ForgedTicket as exc:
            return Scan(422, "forged", detail=str(exc))
        if signed.festival != festival_id:
            return Scan(422, "forged", detail="this ticket is for another festival")
        code = signed.code
    when = now or events.now_iso()
    async with engine.begin() as conn:
        admitted = await conn.execute(tickets.update()
                                      .where(tickets.c.code == code, tickets.c.status == TicketStatus.VALID)
                                      .values(status=TicketStatus.USED, used_at=when, gate=gate))
        row = (await conn.execute(sa.select(tickets).where(tickets.c.code == code))).mappings().first()
        if row is None:
            return Scan(404, "unknown", detail="no ticket has this code")
        if admitted.rowcount == 1:
            await announce(conn, row, TicketUpdateKind.CHECKED_IN)
            return Scan(200, "admitted", ticket_view(row))
    if row["status"] == TicketStatus.VOID:
        return Scan(410, "void", ticket_view(row), "this ticket is void: its order was cancelled")
    return Scan(409, "already_used", ticket_view(row), f"already used at {row['used_at']} at gate {row['gate']}")


async def stats(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Per ticket type: tickets issued (void ones aside) and checked in."""
    async with engine.connect() as conn:
        rows = (await conn.execute(
            sa.select(tickets.c.ticket_id, tickets.c.name,
                      sa.func.sum(sa.case((tickets.c.status != TicketStatus.VOID, 1), else_=0)),
                      sa.func.sum(sa.case((tickets.c.status == TicketStatus.USED, 1), else_=0)))
            .group_by(tickets.c.ticket_id, tickets.c.name).order_by(tickets.c.name))).all()
    return [{"ticket_id": r[0], "name": r[1], "issued": int(r[2] or 0), "checked_in": int(r[3] or 0)} for r in rows]
