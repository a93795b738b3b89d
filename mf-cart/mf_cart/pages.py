"""The buyer's pages, each in the shell's frame with this app's fragment composed in: My orders, an order,
a ticket. An id goes into an include path, so only an id's shape is let through (anything else is
"page not found")."""
from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from festflow_runtime.fragment_app import not_found_page, page

router = APIRouter()
ORDER_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TICKET_CODE = re.compile(r"^[A-Z0-9]{20}$")


@router.get("/cart/my-orders", response_class=HTMLResponse)
async def my_orders(request: Request, page_number: Annotated[int, Query(alias="page")] = 1):
    """The buyer's orders; the page number goes into the include path (a number, so nothing else gets in)."""
    number = min(max(page_number, 1), 10_000)
    return page(request, "My orders", "my_orders",
                [(f"/cart/fragments/v1/my-orders?page={number}", "Your orders are unavailable right now.")])


@router.get("/cart/waiting-room", response_class=HTMLResponse)
async def waiting_room(request: Request):
    """The waiting room in front of the sale: the buyer's place, how many are ahead, and their turn."""
    return page(request, "Waiting room", "waiting_room",
                [("/cart/fragments/v1/waiting-room", "The waiting room is unavailable right now; reload in a moment.")])


@router.get("/cart/orders/{order_id}", response_class=HTMLResponse)
async def order(request: Request, order_id: str):
    if not ORDER_ID.fullmatch(order_id):
        return not_found_page(request)
    return page(request, f"Order {order_id[:8]}", "order",
                [(f"/cart/fragments/v1/order/{order_id}", "This order is unavailable right now.")])


@router.get("/cart/tickets/{code}", response_class=HTMLResponse)
async def ticket(request: Request, code: str):
    """One ticket, large enough to scan from a phone."""
    if not TICKET_CODE.fullmatch(code):
        return not_found_page(request)
    return page(request, "Ticket", "ticket",
                [(f"/cart/fragments/v1/ticket/{code}", "This ticket is unavailable right now.")])
