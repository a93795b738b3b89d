"""Orders: POST /api/orders answers 202 once the order and its command are committed (the command relay
takes it to RabbitMQ); GET /api/orders and /api/orders/{id} show the caller's own orders, every one
that was ever answered 202, from the moment it was."""
from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from festflow_contracts.money import cents_to_str
from festflow_contracts.tokens import Identity
from order_service import ordering
from order_service.db import orders
from order_service.deps import CurrentUser
from order_service.inventory_client import CatalogUnavailable
from order_service.ordering import OrderLine, OrderRefused

router = APIRouter(prefix="/api", tags=["orders"])


class OrderItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    quantity: StrictInt = Field(ge=1)


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[OrderItemIn] = Field(min_length=1)


def order_view(row) -> dict:
    return {
        "order_id": row["order_id"], "status": row["status"], "reason": row["reason"],
        "items": row["items"], "total": cents_to_str(row["total_cents"]), "total_cents": row["total_cents"],
        "created_at": row["created_at"], "updated_at": row["updated_at"], "tickets": row.get("tickets") or [],
    }


def accepted(state: Any, placed: ordering.Placed) -> JSONResponse:
    """The 202 for a placed order (new or found again by its key); wakes the relay for a new one."""
    if placed.created:
        state.relay.notify()
    order = placed.order
    return JSONResponse(order_view(order), status_code=202, headers={"Location": f"/api/orders/{order['order_id']}"})


def refused(exc: OrderRefused | CatalogUnavailable) -> HTTPException:
    if isinstance(exc, CatalogUnavailable):
        return HTTPException(503, str(exc), headers={"Retry-After": "2"})
    return HTTPException(exc.status, str(exc))


def valid_key(idempotency_key: str | None) -> bool:
    return bool(idempotency_key and idempotency_key.strip() and len(idempotency_key) <= 200)


async def checkout(state: Any, identity: Identity, idempotency_key: str, body: OrderIn) -> JSONResponse:
    """`POST /api/orders` once its caller, key and body are known good: the 202, or the refusal (as FastAPI
    sends an HTTPException). The route and the checkout lane (checkout_lane.py) both answer with this."""
    lines = [OrderLine(item.ticket_id, item.quantity) for item in body.items]
    try:
        placed = await ordering.place_order(state.engine, state.catalog, state.limits, identity,
                                            idempotency_key, lines, verified=state.verified_buyers,
                                            writer=state.checkout_writer)
    except (OrderRefused, CatalogUnavailable) as exc:
        http = refused(exc)
        return JSONResponse({"detail": http.detail}, status_code=http.status_code, headers=http.headers)
    return accepted(state, placed)


@router.post("/orders", status_code=202)
async def place_order(
    body: OrderIn, request: Request, identity: CurrentUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
):
    """Places an order: 202 once it and its command are committed. In the running service a well-formed,
    authenticated checkout is answered by the checkout lane before it gets here, with the same answer."""
    if not valid_key(idempotency_key):
        raise HTTPException(400, "an Idempotency-Key header (1-200 characters) is required")
    assert idempotency_key is not None
    return await checkout(request.app.state, identity, idempotency_key, body)


@router.get("/orders")
async def my_orders(request: Request, identity: CurrentUser,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100,
                    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0):
    """The caller's orders, newest first, `limit` at a time from `offset`."""
    async with request.app.state.engine.connect() as conn:
        rows = (await conn.execute(
            sa.select(orders).where(orders.c.username == identity.username)
            .order_by(orders.c.created_at.desc(), orders.c.order_id).limit(limit).offset(offset))).mappings().all()
    return [order_view(row) for row in rows]


@router.get("/orders/{order_id}")
async def get_order(order_id: str, request: Request, identity: CurrentUser):
    async with request.app.state.engine.connect() as conn:
        row = (await conn.execute(sa.select(orders).where(
            orders.c.order_id == order_id, orders.c.username == identity.username))).mappings().first()
    if row is None:  # another user's order is indistinguishable from a missing one
        raise HTTPException(404, "no such order")
    return order_view(row)
