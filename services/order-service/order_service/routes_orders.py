"""Orders: POST /api/orders answers 202 once the command is confirmed by RabbitMQ;
GET /api/orders and /api/orders/{id} show the caller's own orders."""
from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from festflow_contracts import events
from festflow_contracts.money import cents_to_str
from order_service.db import orders
from order_service.deps import CurrentUser
from order_service.inventory_client import CatalogUnavailable
from order_service.publisher import BrokerUnavailable

router = APIRouter(prefix="/api", tags=["orders"])
log = logging.getLogger("order_service.orders")
SOURCE = "/festflow/order-service"


class OrderItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1)


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[OrderItemIn] = Field(min_length=1)


def order_view(row) -> dict:
    items = row["items"]
    return {
        "order_id": row["order_id"], "status": row["status"], "reason": row["reason"],
        "items": items, "total": cents_to_str(row["total_cents"]), "total_cents": row["total_cents"],
        "created_at": row["created_at"], "updated_at": row["updated_at"],
    }


async def _validate(request: Request, body: OrderIn) -> None:
    settings = request.app.state.settings
    if len(body.items) > settings.max_items_per_order:
        raise HTTPException(422, f"at most {settings.max_items_per_order} ticket types per order")
    ids = [item.ticket_id for item in body.items]
    if len(set(ids)) != len(ids):
        raise HTTPException(422, "each ticket may appear only once in an order; use quantity")
    for item in body.items:
        if item.quantity > settings.max_quantity_per_item:
            raise HTTPException(
                422, f"at most {settings.max_quantity_per_item} of one ticket per order ({item.ticket_id})")
    try:
        on_sale = await request.app.state.inventory.on_sale(ids)
    except CatalogUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    unknown = [i for i in ids if i not in on_sale]
    if unknown:
        raise HTTPException(422, f"unknown ticket: {', '.join(unknown)}")


@router.post("/orders", status_code=202)
async def place_order(
    body: OrderIn, request: Request, identity: CurrentUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
):
    if not idempotency_key or not idempotency_key.strip() or len(idempotency_key) > 200:
        raise HTTPException(400, "an Idempotency-Key header (1-200 characters) is required")
    state = request.app.state
    canonical = json.dumps(body.model_dump(), sort_keys=True)
    request_hash = hashlib.sha256(canonical.encode()).hexdigest()

    try:
        await _validate(request, body)
    except HTTPException:
        # a retry of an order accepted earlier is answered with that order, even if it would not pass now
        existing = await _find_by_key(state.engine, identity.username, idempotency_key)
        if existing is None:
            raise
    else:
        now = events.now_iso()
        row = {"order_id": str(uuid.uuid4()), "username": identity.username, "idempotency_key": idempotency_key,
               "request_hash": request_hash, "status": "PENDING", "reason": None,
               "items": [item.model_dump() for item in body.items], "total_cents": None,
               "command_sent": False, "created_at": now, "updated_at": now}
        try:
            async with state.engine.begin() as conn:
                await conn.execute(orders.insert().values(**row))
            existing = row
        except IntegrityError:  # the key was used before (a retry): answer with that order
            existing = await _find_by_key(state.engine, identity.username, idempotency_key)
    if existing["request_hash"] != request_hash:
        raise HTTPException(409, "this Idempotency-Key was already used for a different order")
    if not existing["command_sent"]:
        await _send_command(state, existing, identity.email)
    return JSONResponse(order_view(existing), status_code=202,
                        headers={"Location": f"/api/orders/{existing['order_id']}"})


async def _find_by_key(engine, username: str, key: str):
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(orders).where(
            orders.c.username == username, orders.c.idempotency_key == key))).mappings().first()
    return dict(row) if row else None


async def _send_command(state, order: dict, email: str) -> None:
    command = events.new_event(events.PLACE_ORDER, SOURCE, subject=order["order_id"], data={
        "order_id": order["order_id"], "username": order["username"], "email": email, "items": order["items"],
    })
    try:
        await state.publisher.publish(command, message_id=order["order_id"])
    except BrokerUnavailable as exc:
        log.warning("order %s from %s not accepted: %s", order["order_id"][:8], order["username"], exc)
        # the order row stays, unsent: a retry with the same Idempotency-Key sends it again
        raise HTTPException(503, f"order not accepted: {exc}; retry with the same Idempotency-Key") from exc
    async with state.engine.begin() as conn:
        await conn.execute(orders.update().where(orders.c.order_id == order["order_id"]).values(command_sent=True))
    order["command_sent"] = True
    log.info("order %s from %s accepted (%s), sent to the inventory", order["order_id"][:8], order["username"],
             ", ".join(f"{i['quantity']} x {i['ticket_id']}" for i in order["items"]))


@router.get("/orders")
async def my_orders(request: Request, identity: CurrentUser):
    async with request.app.state.engine.connect() as conn:
        rows = (await conn.execute(
            sa.select(orders).where(orders.c.username == identity.username, orders.c.command_sent)
            .order_by(orders.c.created_at.desc()).limit(100))).mappings().all()
    return [order_view(row) for row in rows]


@router.get("/orders/{order_id}")
async def get_order(order_id: str, request: Request, identity: CurrentUser):
    async with request.app.state.engine.connect() as conn:
        row = (await conn.execute(sa.select(orders).where(
            orders.c.order_id == order_id, orders.c.username == identity.username))).mappings().first()
    if row is None:  # another user's order is indistinguishable from a missing one
        raise HTTPException(404, "no such order")
    return order_view(row)
