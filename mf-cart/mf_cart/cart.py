"""The cart fragment and its actions: add, change a quantity, remove, check out, ask for the address
confirmation again. The cart itself is kept by the order API (`/api/cart`); rendering never writes it."""
from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from festflow_runtime.api_answers import reason
from festflow_runtime.fragment_app import render
from festflow_runtime.web_auth import Visitor, visitor
from mf_cart import cart_page
from mf_cart.web import CART_COOKIE, cart_token, order_api

router = APIRouter()
COOKIE_AGE = 7 * 24 * 3600
EMPTY_CART = {"version": 0, "items": [], "notice": None, "last_order": None}
UNREACHABLE = "We could not reach the order service; your cart is unchanged. Please try again."


async def _catalog(request: Request) -> dict[str, dict]:
    tickets = await order_api(request, "GET", "/api/tickets")
    return {t["id"]: t for t in tickets.body} if tickets.ok else {}


async def _render(request: Request, cart: dict[str, Any] | None = None, *, message: str | None = None,
                  error: str | None = None, line_errors: dict[str, str] | None = None,
                  trigger: str | None = None, set_token: str | None = None, focus: bool = False,
                  unverified: bool = False, waiting_room: bool = False) -> HTMLResponse:
    """The cart fragment. `cart` is the order API's answer to the action, or None to fetch it now."""
    identity = visitor(request)
    unavailable = False
    if cart is None:
        cart = EMPTY_CART
        if identity or cart_token(request):
            current = await order_api(request, "GET", "/api/cart")
            if current.ok:
                cart = current.body
            elif current.status != 401:
                unavailable = True
    page = cart_page.build(cart, await _catalog(request) if cart["items"] else {})
    response = render(request, "cart.html", {
        "identity": identity, "page": page, "message": message, "line_errors": line_errors or {},
        "error": error or ("Your cart cannot be loaded right now; try again in a moment." if unavailable else None),
        "focus": focus, "catalog_down": cart_page.CATALOG_DOWN, "unverified": unverified,
        "waiting_room": waiting_room,
    })
    if set_token:
        response.set_cookie(CART_COOKIE, set_token, max_age=COOKIE_AGE, httponly=True, samesite="lax", path="/")
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response


def _quantity(raw: str) -> int | None:
    raw = raw.strip()
    if raw.startswith("-") and raw[1:].isdigit():
        return -int(raw[1:])
    return int(raw) if raw.isdigit() and len(raw) <= 6 else None


@router.get("/cart/fragments/v1/cart", response_class=HTMLResponse)
async def cart_fragment(request: Request):
    return await _render(request)


@router.post("/cart/items", response_class=HTMLResponse)
async def add_item(request: Request, identity: Visitor, ticket_id: str = Form(""), quantity: str = Form("1")):
    qty = _quantity(quantity)
    if qty is None:
        return await _render(request, error="Quantity must be a whole number.")
    new_token = None if identity or cart_token(request) else str(uuid.uuid4())
    added = await order_api(request, "POST", "/api/cart/items", token=new_token,
                            json={"ticket_id": ticket_id, "quantity": qty})
    if not added.reached:
        return await _render(request, error=UNREACHABLE)
    if not added.ok:
        return await _render(request, error=reason(added.body), set_token=new_token)
    name = next((i["name"] for i in added.body["items"] if i["ticket_id"] == ticket_id), ticket_id)
    return await _render(request, added.body, message=f"Added {qty} × {name}.", trigger="cart:updated",
                         set_token=new_token)


@router.post("/cart/items/{ticket_id}/quantity", response_class=HTMLResponse)
async def set_quantity(request: Request, ticket_id: str, quantity: str = Form("")):
    qty = _quantity(quantity)
    if qty is None:
        return await _render(request, line_errors={ticket_id: "Enter a whole number from 0 to 10."})
    changed = await order_api(request, "PUT", f"/api/cart/items/{quote(ticket_id, safe='')}", json={"quantity": qty})
    if not changed.reached:
        return await _render(request, error=UNREACHABLE)
    if not changed.ok:
        return await _render(request, line_errors={ticket_id: reason(changed.body)})
    return await _render(request, changed.body, trigger="cart:updated",
                         message="Removed from your cart." if qty == 0 else None)


@router.post("/cart/items/{ticket_id}/remove", response_class=HTMLResponse)
async def remove_item(request: Request, ticket_id: str):
    removed = await order_api(request, "DELETE", f"/api/cart/items/{quote(ticket_id, safe='')}")
    if not removed.reached:
        return await _render(request, error=UNREACHABLE)
    if not removed.ok:
        return await _render(request, error=reason(removed.body))
    return await _render(request, removed.body, message="Removed from your cart.", trigger="cart:updated")


@router.post("/cart/checkout", response_class=HTMLResponse)
async def checkout(request: Request, identity: Visitor, version: str = Form("")):
    if identity is None:
        return await _render(request, error="Please log in to check out.", focus=True)
    if not version.isdigit():
        return await _render(request, error="Your cart changed; check it and try again.", focus=True)
    placed = await order_api(request, "POST", "/api/cart/checkout", json={"version": int(version)})
    if not placed.reached:
        return await _render(request, error="We could not reach the order service, so we do not know yet "
                                            "whether your order was placed. Check the cart again in a moment.",
                             focus=True)
    if placed.status == 202:
        return await _render(request, message=f"Order {placed.body['order_id'][:8]} placed: waiting for confirmation.",
                             trigger="order:placed", focus=True)
    if placed.status == 401:
        return await _render(request, error="Your session has expired; please log in again.", focus=True)
    if placed.status == 403 and "waiting room" in reason(placed.body):
        return await _render(request, error=f"Checkout failed: {reason(placed.body)}", focus=True, waiting_room=True)
    if placed.status == 403:
        return await _render(request, error="Confirm your email address first: open the link in the mail we sent "
                                            "you. Your cart stays as it is.", focus=True, unverified=True)
    return await _render(request, error=f"Checkout failed: {reason(placed.body)}", focus=True)


@router.post("/cart/verification", response_class=HTMLResponse)
async def resend_verification(request: Request):
    """Another mail with the link that confirms the buyer's address."""
    sent = await order_api(request, "POST", "/api/auth/verify-email/resend")
    if not sent.reached:
        return await _render(request, error="We could not send the link right now; try again in a moment.",
                             focus=True, unverified=True)
    if sent.status != 202:
        return await _render(request, error=f"We could not send the link: {reason(sent.body)}", focus=True)
    return await _render(request, message=sent.body["detail"], focus=True)
