"""The organiser's orders: found by order number, buyer or email; one order's page, where it is cancelled
or its tickets are sent again."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from festflow_runtime.api_answers import reasons
from festflow_runtime.fragment_app import render
from festflow_runtime.web_auth import AdminUser
from mf_admin.web import order_api, payment_api, ticketing_api

router = APIRouter()


@router.get("/admin/fragments/v1/orders", response_class=HTMLResponse)
async def orders_page(request: Request, _admin: AdminUser, q: str = ""):
    """Orders found by order number, buyer or email (newest first), with the CSV exports."""
    q = q.strip()[:200]
    found = await order_api(request, "GET", "/api/admin/orders", params={"q": q, "limit": 100})
    return render(request, "orders.html", {"orders": found.body if found.ok else [], "q": q,
                                           "error": None if found.ok else "; ".join(reasons(found.body))})


async def _order(request: Request, order_id: str, message: str | None = None, error: str | None = None,
                 leaving: tuple[str, ...] = ()) -> HTMLResponse:
    """The order's fragment; while it is still in one of the `leaving` statuses (a cancellation or a payment on
    its way), or cancelled with tickets not void yet (the ticketing service voids them a moment after), the
    fragment looks again each second."""
    found = await order_api(request, "GET", f"/api/admin/orders/{quote(order_id, safe='')}")
    order = found.body if found.ok else None
    if not found.ok:
        error = "; ".join([*([error] if error else []), *reasons(found.body)])
    voiding = order is not None and order["status"] == "CANCELLED" and any(
        ticket.get("status") == "valid" for ticket in order.get("tickets") or [])
    return render(request, "order.html", {"order": order, "message": message, "error": error,
                                          "cancelling": order is not None and (order["status"] in leaving or voiding)})


@router.get("/admin/fragments/v1/order/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: str, _admin: AdminUser):
    """One order: buyer, lines, status, its tickets; cancel it or send its tickets again."""
    return await _order(request, order_id)


@router.post("/admin/orders/{order_id}/cancel", response_class=HTMLResponse)
async def cancel_order(request: Request, order_id: str, _admin: AdminUser,
                       reason: str = Form("cancelled by the organiser")):
    asked = await order_api(request, "POST", f"/api/admin/orders/{quote(order_id, safe='')}/cancel",
                            {"reason": reason.strip()[:300] or "cancelled by the organiser"})
    if asked.status != 202:
        return await _order(request, order_id, error="; ".join(reasons(asked.body)))
    return await _order(request, order_id, message="Cancelling: the stock goes back on sale and the buyer is told.",
                        leaving=("CONFIRMED", "AWAITING_PAYMENT"))


@router.post("/admin/orders/{order_id}/paid", response_class=HTMLResponse)
async def mark_paid(request: Request, order_id: str, _admin: AdminUser):
    """The organiser took the money themselves (box office, cash): the order awaiting payment is confirmed."""
    marked = await payment_api(request, "POST", f"/api/admin/payments/orders/{quote(order_id, safe='')}/paid")
    if marked.status != 202:
        return await _order(request, order_id, error="; ".join(reasons(marked.body)))
    return await _order(request, order_id, message="Marked paid: the order is confirmed and its tickets issued in a "
                                                   "moment.", leaving=("AWAITING_PAYMENT",))


@router.post("/admin/orders/{order_id}/resend", response_class=HTMLResponse)
async def resend_tickets(request: Request, order_id: str, _admin: AdminUser):
    sent = await ticketing_api(request, "POST", f"/api/checkin/orders/{quote(order_id, safe='')}/resend")
    if not sent.reached:
        return await _order(request, order_id, error="The tickets cannot be sent right now; try again in a moment.")
    if sent.status != 202:
        return await _order(request, order_id, error="; ".join(reasons(sent.body)))
    return await _order(request, order_id, message="The tickets are on their way to the buyer again.")
