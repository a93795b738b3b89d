"""The buyer's cart: GET /api/cart, POST /api/cart/items, PUT and DELETE /api/cart/items/{id},
POST /api/cart/checkout. A logged-in caller works on their account's cart; an anonymous one on the cart
of the token in `X-Cart-Token` (a UUID the client makes). A logged-in caller who also sends a token
has that anonymous cart merged into theirs."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from festflow_contracts import waiting_pass
from festflow_contracts.tokens import COOKIE_NAME, Identity, bearer_token
from order_service import carts
from order_service.checkout_http import accepted, refused
from order_service.deps import AppServices, CurrentUser
from order_service.inventory_client import InventoryUnavailable
from order_service.ordering import OrderRefused

router = APIRouter(prefix="/api/cart", tags=["cart"])


class AddIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    quantity: StrictInt = 1


class QuantityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: StrictInt


class CheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: StrictInt = Field(ge=0, description="the cart version the buyer saw (from GET /api/cart)")


def cart_json(cart: carts.CartView) -> dict:
    return {"version": cart.version, "notice": cart.notice, "last_order": cart.last_order,
            "items": [{"ticket_id": line.ticket_id, "name": line.name, "quantity": line.quantity}
                      for line in cart.lines]}


async def cart_id(services: AppServices, request: Request, authorization: Annotated[str | None, Header()] = None,
                  x_cart_token: Annotated[str | None, Header()] = None) -> str:
    """Whose cart this request is about; merges an anonymous cart into the caller's account first."""
    identity: Identity | None = services.verifier.identify(bearer_token(authorization)
                                                        or request.cookies.get(COOKIE_NAME))
    try:
        anonymous = carts.anonymous_cart(x_cart_token) if x_cart_token else None
    except OrderRefused as exc:
        raise HTTPException(400, str(exc)) from exc
    if identity is None:
        if anonymous is None:
            raise HTTPException(401, "log in, or send an X-Cart-Token (a UUID) for an anonymous cart",
                                headers={"WWW-Authenticate": "Bearer"})
        return anonymous
    account = carts.user_cart(identity.username)
    if anonymous is not None:
        await carts.merge(services.engine, services.limits, anonymous, account)
    return account


CartId = Annotated[str, Depends(cart_id)]


@router.get("")
async def get_cart(services: AppServices, cart: CartId):
    return cart_json(await carts.view(services.engine, cart))


@router.post("/items")
async def add_item(services: AppServices, cart: CartId, body: AddIn):
    try:
        return cart_json(await carts.add(services.engine, services.catalog, services.limits, cart, body.ticket_id,
                                         body.quantity))
    except (OrderRefused, InventoryUnavailable) as exc:
        raise refused(exc) from exc


@router.put("/items/{ticket_id}")
async def set_quantity(services: AppServices, cart: CartId, ticket_id: str, body: QuantityIn):
    """Sets a line's quantity; 0 removes the line."""
    try:
        return cart_json(await carts.set_quantity(services.engine, services.limits, cart, ticket_id, body.quantity))
    except OrderRefused as exc:
        raise refused(exc) from exc


@router.delete("/items/{ticket_id}")
async def remove_item(services: AppServices, cart: CartId, ticket_id: str):
    return cart_json(await carts.remove(services.engine, cart, ticket_id))


@router.post("/checkout", status_code=202)
async def checkout(services: AppServices, identity: CurrentUser, body: CheckoutIn, _cart: CartId,
                   waiting_room_pass: Annotated[str | None, Header(alias=waiting_pass.HEADER)] = None):
    """Places the order for the cart as it was at `version` and empties the cart; 409 if the cart has
    changed since. Checking out the same version again answers with the same order. While the sale has a
    waiting room the buyer's pass comes in the X-Waiting-Room-Pass header (403 with the reason without one)."""
    try:
        placed = await carts.checkout(services.engine, services.checkout, identity, body.version, waiting_room_pass)
    except (OrderRefused, InventoryUnavailable) as exc:
        raise refused(exc) from exc
    return accepted(services, placed)
