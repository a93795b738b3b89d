"""Issuing tickets: a confirmed order of N tickets yields N tickets, each with a unique, unguessable code
and a signed QR payload, written with their TICKETS_ISSUED event in one transaction.

Idempotent: a re-delivered sale finds its order's tickets (the key (order id, position)) and issues
nothing; two deliveries at once make one fail on that key, and the retry finds the tickets.
"""
from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.channels import TICKET_EVENTS_TOPIC
from festflow_contracts.messages import IssuedTicket, TicketsIssued, TicketSold
from festflow_runtime import outbox
from ticketing_service.db import event_outbox, tickets
from ticketing_service.signing import SignedTicket, TicketSigner

SOURCE = "/festflow/ticketing-service"


CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 signs, none that reads as another (no I, O, 0, 1)


def new_code() -> str:
    """20 random signs of 32 (100 bits): unguessable, and easy to type at a gate."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(20))


async def issue_for_sale(engine: AsyncEngine, sold: TicketSold, signer: TicketSigner, festival_id: str) -> bool:
    """Issues the sale's tickets; False when they were issued before (a re-delivered event)."""
    async with engine.connect() as conn:
        if await conn.scalar(sa.select(tickets.c.code).where(tickets.c.order_id == sold.order_id).limit(1)):
            return False
    now = events.now_iso()
    festival = sold.festival.model_dump() if sold.festival else None
    rows: list[dict[str, Any]] = []
    for line in sold.items:
        for _ in range(line.quantity):
            code = new_code()
            rows.append({"code": code, "order_id": sold.order_id, "position": len(rows) + 1,
                         "ticket_id": line.ticket_id, "name": line.name, "username": sold.username,
                         "email": sold.email, "holder": "", "status": "valid", "festival": festival,
                         "qr": signer.sign(SignedTicket(code, line.ticket_id, festival_id)), "issued_at": now})
    issued = tuple(IssuedTicket(code=r["code"], ticket_id=r["ticket_id"], name=r["name"], qr=r["qr"]) for r in rows)
    event = messages.envelope(TicketsIssued(
        order_id=sold.order_id, username=sold.username, email=sold.email, festival=sold.festival,
        items=sold.items, total_cents=sold.total_cents, tickets=issued), SOURCE, subject=sold.order_id)
    try:
        async with engine.begin() as conn:
            await conn.execute(tickets.insert(), rows)
            await outbox.emit(conn, event_outbox, TICKET_EVENTS_TOPIC, sold.order_id, event)
    except IntegrityError:
        async with engine.connect() as conn:  # a concurrent delivery issued them: that is the answer
            if await conn.scalar(sa.select(tickets.c.code).where(tickets.c.order_id == sold.order_id).limit(1)):
                return False
        raise
    return True


def ticket_view(row: Any) -> dict[str, Any]:
    return {"code": row["code"], "order_id": row["order_id"], "ticket_id": row["ticket_id"], "name": row["name"],
            "holder": row["holder"], "status": row["status"], "used_at": row["used_at"], "gate": row["gate"],
            "festival": row["festival"], "qr": row["qr"],
            "qr_url": f"/api/tickets/{row['code']}/qr.svg", "page_url": f"/tickets/{row['code']}"}
