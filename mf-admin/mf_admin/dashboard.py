"""The organiser's dashboard: KPIs, the sales chart, stock, the gates' check-ins, and what an open dashboard
hears live (`dashboard_update`, served at /admin/sse/updates)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from festflow_contracts import messages
from festflow_contracts.channels import CATALOG_EVENTS_TOPIC, ORDER_EVENTS_TOPIC, TICKET_EVENTS_TOPIC
from festflow_contracts.messages import (
    OrderCancelled,
    OrderExpired,
    OrderHeld,
    OrderRejected,
    TicketChanged,
    TicketsIssued,
    TicketSold,
    TicketUpdated,
)
from festflow_runtime.api_answers import reason
from festflow_runtime.fragment_app import LiveView, render
from festflow_runtime.web_auth import AdminUser, Visitor
from mf_admin import sales_chart
from mf_admin.web import order_api, ticketing_api

router = APIRouter()


def dashboard_update(event: dict[str, Any]) -> dict[str, Any] | None:
    """What an open dashboard hears: stock after a sale or a change of a ticket type."""
    message = messages.parse_any(event)
    if isinstance(message, TicketSold):
        return {"kind": "sold", "tickets": [s.model_dump() for s in message.stock]}
    if isinstance(message, OrderCancelled):
        return {"kind": "cancelled", "tickets": [s.model_dump() for s in message.stock]}
    if isinstance(message, OrderHeld):
        return {"kind": "held", "tickets": [s.model_dump() for s in message.stock]}
    if isinstance(message, OrderExpired):
        return {"kind": "expired", "tickets": [s.model_dump() for s in message.stock]}
    if isinstance(message, OrderRejected):
        return {"kind": "rejected", "tickets": []}
    if isinstance(message, TicketChanged):
        return {"kind": "changed", "tickets": [{"ticket_id": message.id, "stock": message.stock}]}
    if isinstance(message, TicketUpdated) and message.change == "checked_in":
        return {"kind": "checked_in", "tickets": []}
    if isinstance(message, TicketsIssued):
        return {"kind": "issued", "tickets": []}
    return None


# Server-sent `update` events {"kind": "sold"|"rejected"|"changed"|..., "tickets": [{"ticket_id","stock"}]}
UPDATES = LiveView("/admin/sse/updates", "update", (ORDER_EVENTS_TOPIC, CATALOG_EVENTS_TOPIC, TICKET_EVENTS_TOPIC),
                   dashboard_update, admins_only=True)


@router.get("/admin/fragments/v1/nav", response_class=HTMLResponse)
async def nav(request: Request, identity: Visitor):
    return render(request, "nav.html", {"identity": identity})


async def _sales_context(request: Request) -> dict[str, Any]:
    stats = await order_api(request, "GET", "/api/admin/stats")
    if not stats.ok:
        return {"stats": None, "error": reason(stats.body)}
    series = stats.body["series"]
    checked_in = await ticketing_api(request, "GET", "/api/checkin/stats")
    return {"stats": stats.body, "chart": Markup(sales_chart.render(series["points"], series["bucket_seconds"])),
            "error": None,
            # the gates' figures come from the ticketing service; without them the dashboard still shows sales
            "checked_in": {row["ticket_id"]: row for row in checked_in.body} if checked_in.ok else {}}


@router.get("/admin/fragments/v1/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request, _admin: AdminUser):
    return render(request, "dashboard.html", await _sales_context(request))


@router.get("/admin/fragments/v1/sales", response_class=HTMLResponse)
async def sales(request: Request, _admin: AdminUser):
    return render(request, "sales.html", await _sales_context(request))
