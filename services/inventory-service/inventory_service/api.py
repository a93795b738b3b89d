"""The inventory's internal HTTP API (not routed by the gateway): health, the ticket catalog and the
festival's details."""
from __future__ import annotations

import hmac
import logging
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from festflow_runtime import database
from inventory_service import festival
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


async def internal_caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """/internal/* is for FestFlow's own services: they send the shared service token."""
    expected = request.app.state.settings.internal_api_token
    if expected and not hmac.compare_digest(authorization or "", f"Bearer {expected}"):
        raise HTTPException(401, "this internal API needs the service token", headers={"WWW-Authenticate": "Bearer"})


router = APIRouter()
internal = APIRouter(dependencies=[Depends(internal_caller)])
log = logging.getLogger("inventory_service.tickets")


@router.get("/healthz")
async def healthz(request: Request):
    state = request.app.state
    checks = {"database": await database.health(state.engine)}
    conn = state.consumer.connection
    checks["rabbitmq"] = "ok" if state.consumer.consuming and conn and not conn.is_closed else "down"
    checks["kafka"] = "ok" if state.producer.client.cluster.brokers() else "down"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status_code=200 if healthy else 503)


@internal.get("/internal/tickets")
async def list_tickets(request: Request, include_retired: bool = False):
    query = sa.select(tickets).order_by(tickets.c.price_cents)
    if not include_retired:
        query = query.where(tickets.c.active)
    async with request.app.state.engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [ticket_view(row) for row in rows]


@internal.get("/internal/tickets/{ticket_id}")
async def get_ticket(request: Request, ticket_id: str):
    async with request.app.state.engine.connect() as conn:
        row = (await conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id))).mappings().first()
    if row is None:
        raise HTTPException(404, f"no ticket {ticket_id!r}")
    return ticket_view(row)


@internal.post("/internal/tickets", status_code=201)
async def add_ticket(request: Request, new: TicketCreate):
    try:
        ticket = await create_ticket(request.app.state.engine, new)
    except TicketError as exc:
        raise HTTPException(exc.status, exc.detail) from exc
    log.info("ticket type %s created: price %d cents, stock %d", ticket["id"], ticket["price_cents"], ticket["stock"])
    request.app.state.relay.notify()
    return ticket


@internal.patch("/internal/tickets/{ticket_id}")
async def change_ticket(request: Request, ticket_id: str, patch: TicketPatch):
    try:
        ticket = await update_ticket(request.app.state.engine, ticket_id, patch)
    except TicketError as exc:
        log.warning("change to ticket type %s refused: %s", ticket_id, exc.detail)
        raise HTTPException(exc.status, exc.detail) from exc
    log.info("ticket type %s changed: price %d cents, stock %d%s", ticket_id, ticket["price_cents"], ticket["stock"],
             "" if ticket["active"] else ", retired")
    request.app.state.relay.notify()
    return ticket


@internal.get("/internal/stats")
async def stats(request: Request):
    return await sales_stats(request.app.state.engine)


@internal.get("/internal/festival")
async def get_festival(request: Request):
    async with request.app.state.engine.connect() as conn:
        try:
            return await festival.load(conn)
        except festival.FestivalError as exc:
            raise HTTPException(exc.status, exc.detail) from exc


@internal.patch("/internal/festival")
async def change_festival(request: Request, patch: festival.FestivalPatch):
    try:
        details = await festival.update(request.app.state.engine, patch)
    except festival.FestivalError as exc:
        raise HTTPException(exc.status, exc.detail) from exc
    log.info("festival details changed (version %d)", details["version"])
    request.app.state.relay.notify()
    return details


@internal.get("/internal/festival/banner")
async def get_banner(request: Request):
    found = await festival.banner(request.app.state.engine)
    if found is None:
        raise HTTPException(404, "the festival has no banner")
    data, kind = found
    return Response(data, media_type=kind)


@internal.put("/internal/festival/banner")
async def put_banner(request: Request):
    """The banner image as the request body (empty: no banner)."""
    data = await request.body()
    try:
        details = await festival.set_banner(request.app.state.engine, data)
    except festival.FestivalError as exc:
        raise HTTPException(exc.status, exc.detail) from exc
    log.info("festival banner %s", "replaced" if data else "removed")
    request.app.state.relay.notify()
    return details
