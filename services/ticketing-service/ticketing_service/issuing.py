"""Issuing tickets: a confirmed order of N tickets yields N tickets, each with a unique, unguessable code
and a signed QR payload, written with their TICKETS_ISSUED event in one transaction.

Idempotent: a re-delivered sale finds its order's tickets (the key (order id, position)) and issues
nothing; two deliveries at once make one fail on that key, and the retry finds the tickets.
"""
from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.channels import TICKET_EVENTS_TOPIC
from festflow_contracts.messages import IssuedTicket, OrderCancelled, TicketsIssued, TicketSold
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
    try:
        return bool(await issue_for_sales(engine, [sold], signer, festival_id))
    except IntegrityError:
        async with engine.connect() as conn:  # a concurrent delivery issued them: that is the answer
            if await conn.scalar(sa.select(tickets.c.code).where(tickets.c.order_id == sold.order_id).limit(1)):
                return False
        raise


async def issue_for_sales(engine: AsyncEngine, sales: Sequence[TicketSold], signer: TicketSigner,
                          festival_id: str) -> list[TicketSold]:
    """Issues the tickets of several sales (the events of one fetch) in one transaction, with one event each;
    returns the sales issued now, leaving out those issued before. Raises IntegrityError if another
    delivery issued one of them meanwhile (then each is issued alone: issue_for_sale)."""
    async with engine.connect() as conn:
        issued_before = set((await conn.scalars(sa.select(tickets.c.order_id).distinct().where(
            tickets.c.order_id.in_({sold.order_id for sold in sales})))).all())
    fresh: list[TicketSold] = []
    for sold in sales:
        if sold.order_id not in issued_before:
            fresh.append(sold)
            issued_before.add(sold.order_id)  # a sale twice in one fetch is issued once
    if not fresh:
        return []
    now = events.now_iso()
    rows: list[dict[str, Any]] = []
    emitted: list[tuple[str, str, dict[str, Any]]] = []
    for sold in fresh:
        own = _tickets(sold, signer, festival_id, now)
        rows += own
        issued = tuple(IssuedTicket(code=r["code"], ticket_id=r["ticket_id"], name=r["name"], qr=r["qr"])
                       for r in own)
        emitted.append((TICKET_EVENTS_TOPIC, sold.order_id, messages.envelope(TicketsIssued(
            order_id=sold.order_id, username=sold.username, email=sold.email, festival=sold.festival,
            items=sold.items, total_cents=sold.total_cents, tickets=issued), SOURCE, subject=sold.order_id)))
    async with engine.begin() as conn:
        await conn.execute(tickets.insert(), rows)
        await outbox.emit_many(conn, event_outbox, emitted)
    return fresh


async def issue_in_order(engine: AsyncEngine, batch: Sequence[dict[str, Any]], signer: TicketSigner, festival_id: str,
                         cancel: Callable[[OrderCancelled], Awaitable[None]]) -> list[TicketSold]:
    """The order events of one Kafka fetch, in their order: the sales between two cancellations are issued
    in one transaction, each cancellation goes to `cancel` in its place (after the sales before it), and
    other events are left alone. Returns the sales issued now."""
    issued: list[TicketSold] = []
    sales: list[TicketSold] = []
    for event in batch:
        if events.current_type(event["type"]) == events.ORDER_CONFIRMED:
            sales.append(messages.parse(event, TicketSold))
        elif event["type"] == events.ORDER_CANCELLED:
            issued += await _issue_together(engine, sales, signer, festival_id)
            sales = []
            await cancel(messages.parse(event, OrderCancelled))
    return issued + await _issue_together(engine, sales, signer, festival_id)


async def _issue_together(engine: AsyncEngine, sales: list[TicketSold], signer: TicketSigner,
                          festival_id: str) -> list[TicketSold]:
    if not sales:
        return []
    try:
        return await issue_for_sales(engine, sales, signer, festival_id)
    except IntegrityError:  # another delivery issued one of them meanwhile: each alone finds out which
        return [sold for sold in sales if await issue_for_sale(engine, sold, signer, festival_id)]


def _tickets(sold: TicketSold, signer: TicketSigner, festival_id: str, now: str) -> list[dict[str, Any]]:
    """The rows of a sale's tickets: one per ticket bought, each with its code and signed QR payload."""
    festival = sold.festival.model_dump() if sold.festival else None
    rows: list[dict[str, Any]] = []
    for line in sold.items:
        for _ in range(line.quantity):
            code = new_code()
            rows.append({"code": code, "order_id": sold.order_id, "position": len(rows) + 1,
                         "ticket_id": line.ticket_id, "name": line.name, "username": sold.username,
                         "email": sold.email, "holder": "", "status": "valid", "festival": festival,
                         "qr": signer.sign(SignedTicket(code, line.ticket_id, festival_id)), "issued_at": now})
    return rows


def ticket_view(row: Any) -> dict[str, Any]:
    return {"code": row["code"], "order_id": row["order_id"], "ticket_id": row["ticket_id"], "name": row["name"],
            "holder": row["holder"], "status": row["status"], "used_at": row["used_at"], "gate": row["gate"],
            "festival": row["festival"], "qr": row["qr"],
            "qr_url": f"/api/tickets/{row['code']}/qr.svg", "page_url": f"/tickets/{row['code']}"}
