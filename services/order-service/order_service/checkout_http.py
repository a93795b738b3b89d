"""A checkout's HTTP face, shared by `POST /api/orders` (routes_orders.py), the cart's checkout
(routes_cart.py) and the checkout lane in front of FastAPI (checkout_lane.py): the body, the key's rule,
the 202 and the refusals."""
from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from festflow_contracts.tokens import Identity
from order_service import ordering
from order_service.bootstrap import Services
from order_service.inventory_client import InventoryUnavailable
from order_service.ordering import OrderLine, OrderRefused
from order_service.views import order_view


class OrderItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    quantity: StrictInt = Field(ge=1)


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[OrderItemIn] = Field(min_length=1)


def accepted(services: Services, placed: ordering.Placed) -> JSONResponse:
    """The 202 for a placed order (new or found again by its key); wakes the relay for a new one."""
    if placed.created:
        services.commands.notify()
    order = placed.order
    return JSONResponse(order_view(order), status_code=202, headers={"Location": f"/api/orders/{order['order_id']}"})


def refused(exc: OrderRefused | InventoryUnavailable) -> HTTPException:
    if isinstance(exc, InventoryUnavailable):
        return HTTPException(503, str(exc), headers={"Retry-After": "2"})
    return HTTPException(exc.status, str(exc))


def valid_key(idempotency_key: str | None) -> bool:
    return bool(idempotency_key and idempotency_key.strip() and len(idempotency_key) <= 200)


async def checkout(services: Services, identity: Identity, idempotency_key: str, body: OrderIn,
                   pass_token: str | None = None) -> JSONResponse:
    """`POST /api/orders` once its caller, key and body are known good: the 202, or the refusal (as FastAPI
    sends an HTTPException). The route and the checkout lane (checkout_lane.py) both answer with this."""
    lines = [OrderLine(item.ticket_id, item.quantity) for item in body.items]
    try:
        placed = await services.checkout.place(identity, idempotency_key, lines, pass_token=pass_token)
    except (OrderRefused, InventoryUnavailable) as exc:
        http = refused(exc)
        return JSONResponse({"detail": http.detail}, status_code=http.status_code, headers=http.headers)
    return accepted(services, placed)
