"""Check-in at the gate: a scan admits a valid ticket once.

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

from festflow_contracts import events, messages
from festflow_contracts.channels import TICKET_EVENTS_TOPIC
from festflow_contracts.messages import IssuedTicket, TicketsResent, TicketStatus, TicketUpdated
from festflow_runtime import outbox
from ticketing_service.db import event_outbox, tickets
from ticketing_service.issuing import SOURCE, ticket_view
from ticketing_service.signing import ForgedTicket, TicketSigner

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
            await _announce(conn, row, "checked_in")
            return Scan(200, "admitted", ticket_view(row))
    if row["status"] == TicketStatus.VOID:
        return Scan(410, "void", ticket_view(row), "this ticket is void: its order was cancelled")
    return Scan(409, "already_used", ticket_view(row), f"already used at {row['used_at']} at gate {row['gate']}")


async def _announce(conn: Any, row: Any, change: str) -> None:
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
            await _announce(conn, row, "holder")
    return ticket_view(row)


async def stats(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Per ticket type: tickets issued (void ones aside) and checked in."""
    async with engine.connect() as conn:
        rows = (await conn.execute(
            sa.select(tickets.c.ticket_id, tickets.c.name,
                      sa.func.sum(sa.case((tickets.c.status != TicketStatus.VOID, 1), else_=0)),
                      sa.func.sum(sa.case((tickets.c.status == TicketStatus.USED, 1), else_=0)))
            .group_by(tickets.c.ticket_id, tickets.c.name).order_by(tickets.c.name))).all()
    return [{"ticket_id": r[0], "name": r[1], "issued": int(r[2] or 0), "checked_in": int(r[3] or 0)} for r in rows]


async def void_order(engine: AsyncEngine, order_id: str) -> int:
    """Its order was cancelled: every ticket of it is void (a gate refuses it with 410). Returns how many
    changed (none for a redelivered cancellation)."""
    async with engine.begin() as conn:
        rows = (await conn.execute(sa.select(tickets).where(tickets.c.order_id == order_id,
                                                            tickets.c.status != TicketStatus.VOID)
                                   .order_by(tickets.c.position))).mappings().all()
        if not rows:
            return 0
        await conn.execute(tickets.update().where(tickets.c.order_id == order_id).values(status=TicketStatus.VOID))
        for row in rows:
            await _announce(conn, {**row, "status": TicketStatus.VOID}, "void")
    return len(rows)


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


ATTENDEE_COLUMNS = ("code", "ticket_id", "name", "holder", "username", "email", "order_id", "status", "used_at",
                    "gate")


async def attendees(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(*(tickets.c[c] for c in ATTENDEE_COLUMNS))
                                   .order_by(tickets.c.name, tickets.c.issued_at, tickets.c.position))).mappings()
        return [dict(row) for row in rows]
