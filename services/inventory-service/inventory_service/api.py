"""The inventory's internal HTTP API (not routed by the gateway): health, the ticket catalog and the
festival's details."""
from __future__ import annotations

import hmac
import logging
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import Response

from festflow_runtime import database
from festflow_runtime.health import health_answer
from inventory_service import festival
from inventory_service.bootstrap import Services
from inventory_service.db import tickets
from inventory_service.sales_stats import sales_stats
from inventory_service.ticket_admin import (
    TicketCreate,
    TicketError,
    TicketPatch,
    create_ticket,
    ticket_view,
    update_ticket,
)


def services(request: Request) -> Services:
    return request.app.state.services


AppServices = Annotated[Services, Depends(services)]


async def internal_caller(parts: AppServices, authorization: Annotated[str | None, Header()] = None) -> None:
    """/internal/* is for FestFlow's own services: they send the shared service token."""
    expected = parts.settings.internal_api_token
    if expected and not hmac.compare_digest(authorization or "", f"Bearer {expected}"):
        raise HTTPException(401, "this internal API needs the service token", headers={"WWW-Authenticate": "Bearer"})


router = APIRouter()
internal = APIRouter(dependencies=[Depends(internal_caller)])
log = logging.getLogger("inventory_service.tickets")


@router.get("/healthz")
async def healthz(parts: AppServices):
    checks = {"database": await database.health(parts.engine)}
    conn = parts.consumer.connection
    checks["rabbitmq"] = "ok" if parts.consumer.consuming and conn and not conn.is_closed else "down"
    checks["kafka"] = "ok" if parts.producer and parts.producer.client.cluster.brokers() else "down"
    return health_answer(checks)


@internal.get("/internal/tickets")
async def list_tickets(parts: AppServices, include_retired: bool = False):
    query = sa.select(tickets).order_by(tickets.c.price_cents)
    if not include_retired:
        query = query.where(tickets.c.active)
    async with parts.engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [ticket_view(row) for row in rows]


@internal.get("/internal/tickets/{ticket_id}")
async def get_ticket(parts: AppServices, ticket_id: str):
    async with parts.engine.connect() as conn:
        row = (await conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id))).mappings().first()
    if row is None:
        raise HTTPException(404, f"no ticket {ticket_id!r}")
    return ticket_view(row)


@internal.post("/internal/tickets", status_code=201)
async def add_ticket(parts: AppServices, new: TicketCreate):
    try:
        ticket = await create_ticket(parts.engine, new)
    except TicketError as exc:
        raise HTTPException(exc.status, exc.detail) from exc
    log.info("ticket type %s created: price %d cents, stock %d", ticket["id"], ticket["price_cents"], ticket["stock"])
    parts.relay.notify()
    return ticket


@internal.patch("/internal/tickets/{ticket_id}")
async def change_ticket(parts: AppServices, ticket_id: str, patch: TicketPatch):
    try:
        ticket = await update_ticket(parts.engine, ticket_id, patch)
    except TicketError as exc:
        log.warning("change to ticket type %s refused: %s", ticket_id, exc.detail)
        raise HTTPException(exc.status, exc.detail) from exc
    log.info("ticket type %s changed: price %d cents, stock %d%s", ticket_id, ticket["price_cents"], ticket["stock"],
             "" if ticket["active"] else ", retired")
    parts.relay.notify()
    return ticket


@internal.get("/internal/stats")
async def stats(parts: AppServices):
    return await sales_stats(parts.engine)


@internal.get("/internal/festival")
async def get_festival(parts: AppServices):
    async with parts.engine.connect() as conn:
        try:
            return await festival.load(conn)
        except festival.FestivalError as exc:
            raise HTTPException(exc.status, exc.detail) from exc


@internal.patch("/internal/festival")
async def change_festival(parts: AppServices, patch: festival.FestivalPatch):
    try:
        details = await festival.update(parts.engine, patch)
    except festival.FestivalError as exc:
        raise HTTPException(exc.status, exc.detail) from exc
    log.info("festival details changed (version %d)", details["version"])
    parts.relay.notify()
    return details


@internal.get("/internal/festival/banner")
async def get_banner(parts: AppServices):
    found = await festival.banner(parts.engine)
    if found is None:
        raise HTTPException(404, "the festival has no banner")
    data, kind = found
    return Response(data, media_type=kind)


@internal.put("/internal/festival/banner")
async def put_banner(parts: AppServices, request: Request):
    """The banner image as the request body (empty: no banner)."""
    data = await request.body()
    try:
        details = await festival.set_banner(parts.engine, data)
    except festival.FestivalError as exc:
        raise HTTPException(exc.status, exc.detail) from exc
    log.info("festival banner %s", "replaced" if data else "removed")
    parts.relay.notify()
    return details
