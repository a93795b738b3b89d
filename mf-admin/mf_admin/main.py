"""Fragments (see CONTRACT.md): /admin/fragments/v1/nav, /dashboard, /sales, /ticket-editor.
HTMX actions: POST /admin/tickets, /admin/tickets/{id}, /admin/tickets/{id}/active. SSE: /admin/sse/updates.
Only the admin role, read from the verified token, gets admin content; the order API checks it again."""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup
from sse_starlette.sse import EventSourceResponse

from festflow_contracts import messages
from festflow_contracts.channels import CATALOG_EVENTS_TOPIC, ORDER_EVENTS_TOPIC, TICKET_EVENTS_TOPIC
from festflow_contracts.messages import (
    OrderCancelled,
    OrderRejected,
    TicketChanged,
    TicketsIssued,
    TicketSold,
    TicketUpdated,
)
from festflow_contracts.tokens import TokenVerifier
from festflow_runtime.event_stream import Subscription
from festflow_runtime.fanout import Fanout
from festflow_runtime.revocations import subscribe_revocations
from festflow_runtime.same_origin import SameOriginMiddleware
from festflow_runtime.startup_heap import freeze_startup_heap
from mf_admin import login_locks, sales_chart
from mf_admin.settings import Settings
from mf_admin.web import HERE, auth_headers, call_api, reasons, refusal, render, templates, who_is_asking


def local_input(iso: str) -> str:
    """"2027-03-01T10:00Z" -> "2027-03-01T10:00", the value of a datetime-local input (in UTC)."""
    return iso.removesuffix("Z")[:16]


templates.env.filters["local_input"] = local_input




def dashboard_update(event: dict[str, Any]) -> dict[str, Any] | None:
    """What an open dashboard hears: stock after a sale or a change of a ticket type."""
    message = messages.parse_any(event)
    if isinstance(message, TicketSold):
        return {"kind": "sold", "tickets": [s.model_dump() for s in message.stock]}
    if isinstance(message, OrderCancelled):
        return {"kind": "cancelled", "tickets": [s.model_dump() for s in message.stock]}
    if isinstance(message, OrderRejected):
        return {"kind": "rejected", "tickets": []}
    if isinstance(message, TicketChanged):
        return {"kind": "changed", "tickets": [{"ticket_id": message.id, "stock": message.stock}]}
    if isinstance(message, TicketUpdated) and message.change == "checked_in":
        return {"kind": "checked_in", "tickets": []}
    if isinstance(message, TicketsIssued):
        return {"kind": "issued", "tickets": []}
    return None


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings: Settings = app.state.settings
    app.state.verifier = TokenVerifier(settings.public_key_pem())
    revocations = subscribe_revocations(settings.kafka_bootstrap_servers, app.state.verifier)
    revocations.start()  # logged-out tokens are refused here too
    app.state.api = httpx.AsyncClient(base_url=settings.order_api_url, timeout=5.0,
                                      transport=app.state.order_api_transport)
    app.state.tickets_api = httpx.AsyncClient(base_url=settings.ticketing_api_url, timeout=3.0,
                                              transport=app.state.order_api_transport)
    app.state.updates = updates = Fanout()

    async def on_event(event: dict) -> None:
        update = dashboard_update(event)
        if update:
            updates.publish(update)

    app.state.events = Subscription(settings.kafka_bootstrap_servers,
                                    (ORDER_EVENTS_TOPIC, CATALOG_EVENTS_TOPIC, TICKET_EVENTS_TOPIC), on_event,
                                    group_id=None, from_beginning=False)
    app.state.events.start()
    freeze_startup_heap()  # no full garbage collection walks what was made at start
    try:
        yield
    finally:
        await revocations.stop()
        await app.state.events.stop()
        await app.state.api.aclose()
        await app.state.tickets_api.aclose()


router = APIRouter()


def create_app(settings: Settings | None = None, *,
               order_api_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The app (run by `uvicorn --factory mf_admin.main:create_app`); tests pass a fake order API transport."""
    app = FastAPI(title="FestFlow admin micro-frontend", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # internal: no documents of its routes for strangers
    app.state.settings = settings or Settings()
    app.state.order_api_transport = order_api_transport
    app.add_middleware(SameOriginMiddleware, streams=("/admin/sse/",))
    app.mount("/admin/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
    app.include_router(login_locks.router)
    return app


@router.get("/healthz")
async def healthz(request: Request):
    ok = request.app.state.events.ready
    return JSONResponse({"status": "ok" if ok else "degraded", "checks": {"kafka": "ok" if ok else "down"}},
                        status_code=200 if ok else 503)


@router.get("/admin/fragments/v1/nav", response_class=HTMLResponse)
async def nav(request: Request):
    return render(request, "nav.html", {"identity": who_is_asking(request)})


async def _sales_context(request: Request) -> dict[str, Any]:
    status, stats = await call_api(request, "GET", "/api/admin/stats")
    if status != 200:
        return {"stats": None, "error": "; ".join(reasons(stats))}
    chart = Markup(sales_chart.render(stats["series"]["points"], stats["series"]["bucket_seconds"]))
    checked_in: dict[str, dict[str, int]] = {}
    try:  # the gate's figures come from the ticketing service; without them the dashboard still shows sales
        resp = await request.app.state.tickets_api.get("/api/checkin/stats", headers=auth_headers(request))
        if resp.status_code == 200:
            checked_in = {row["ticket_id"]: row for row in resp.json()}
    except (httpx.HTTPError, ValueError):
        pass
    return {"stats": stats, "chart": chart, "error": None, "checked_in": checked_in}


@router.get("/admin/fragments/v1/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request):
    return refusal(request) or render(request, "dashboard.html", await _sales_context(request))


@router.get("/admin/fragments/v1/sales", response_class=HTMLResponse)
async def sales(request: Request):
    return refusal(request) or render(request, "sales.html", await _sales_context(request))


async def _editor(request: Request, message: str | None = None, errors: list[str] | None = None,
                  draft: dict | None = None, status_code: int = 200) -> HTMLResponse:
    status, tickets = await call_api(request, "GET", "/api/admin/tickets")
    if status != 200:
        errors = (errors or []) + reasons(tickets)
        tickets = []
    return render(request, "ticket_editor.html", {"tickets": tickets, "message": message, "errors": errors or [],
                                                 "draft": draft or {}}, status_code=status_code)


@router.get("/admin/fragments/v1/ticket-editor", response_class=HTMLResponse)
async def ticket_editor(request: Request):
    return refusal(request) or await _editor(request)


@router.post("/admin/tickets/{ticket_id}", response_class=HTMLResponse)
async def save_ticket(request: Request, ticket_id: str, name: str = Form(""), price: str = Form(""),
                      stock: str = Form(""), stock_seen: str = Form(""), description: str = Form(""),
                      sale_starts_at: str = Form(""), sale_ends_at: str = Form(""), per_buyer_limit: str = Form("")):
    """SAVE CHANGES of one row: answers the row, saved (with what happened meanwhile) or with the reasons."""
    refused = refusal(request)
    if refused:
        return refused
    body = {"name": name, "price": price, "stock": stock, "stock_seen": stock_seen, "description": description,
            "sale_starts_at": sale_starts_at, "sale_ends_at": sale_ends_at, "per_buyer_limit": per_buyer_limit}
    status, result = await call_api(request, "PATCH", f"/api/admin/tickets/{quote(ticket_id, safe='')}", body)
    if status == 200:
        note = "Saved."
        if result.get("sold_meanwhile"):
            note += f" {result['sold_meanwhile']} sold while you edited: STOCK is now {result['stock']}."
        return render(request, "ticket_row.html", {"t": result, "message": note, "errors": []})
    draft = {"id": ticket_id, "name": name, "price": price, "stock": stock, "stock_seen": stock_seen,
             "active": True, "description": description, "sale_starts_at": sale_starts_at,
             "sale_ends_at": sale_ends_at, "per_buyer_limit": per_buyer_limit}
    _, current = await call_api(request, "GET", "/api/admin/tickets")
    live = next((t for t in current if isinstance(current, list) and t["id"] == ticket_id), None)
    return render(request, "ticket_row.html", {"t": live or draft, "draft": draft, "errors": reasons(result)},
                 status_code=200)


@router.post("/admin/tickets/{ticket_id}/active", response_class=HTMLResponse)
async def set_active(request: Request, ticket_id: str, active: str = Form("false")):
    """Retire (active=false) or put back on sale (active=true)."""
    refused = refusal(request)
    if refused:
        return refused
    on_sale = active == "true"
    status, result = await call_api(request, "PATCH", f"/api/admin/tickets/{quote(ticket_id, safe='')}",
                                {"active": on_sale})
    if status != 200:
        return await _editor(request, errors=reasons(result))
    return await _editor(request, message=f"{result['name']} is {'on sale again' if on_sale else 'retired'}.")


@router.post("/admin/tickets", response_class=HTMLResponse)
async def create_ticket(request: Request, name: str = Form(""), price: str = Form(""), stock: str = Form(""),
                        description: str = Form("")):
    refused = refusal(request)
    if refused:
        return refused
    new = {"name": name, "price": price, "stock": stock, "description": description}
    status, result = await call_api(request, "POST", "/api/admin/tickets", new)
    if status != 201:
        return await _editor(request, errors=reasons(result), draft=new)
    return await _editor(request, message=f"{result['name']} added: €{result['price']}, stock {result['stock']}.")


FESTIVAL_FIELDS = ("name", "starts_on", "ends_on", "venue", "address", "description")


def field_reasons(body: Any) -> dict[str, str]:
    """An API refusal as {field: reason}, `form` for what concerns no one field."""
    detail = body.get("detail") if isinstance(body, dict) else None
    found: dict[str, str] = {}
    if isinstance(detail, list):
        for item in detail:
            msg = str(item.get("msg", item)).removeprefix("Value error, ")
            field = str(item.get("loc", ["form"])[-1])
            if ":" in msg and msg.split(":", 1)[0] in FESTIVAL_FIELDS:  # "ends_on: cannot end before ..."
                field, msg = msg.split(":", 1)
            found.setdefault(field if field in FESTIVAL_FIELDS else "form", msg.strip())
    elif detail:
        text = str(detail)
        field = text.split(":", 1)[0] if ":" in text and text.split(":", 1)[0] in FESTIVAL_FIELDS else "form"
        found[field] = text.split(":", 1)[1].strip() if field != "form" else text
    return found or {"form": "something went wrong"}


async def _festival_editor(request: Request, message: str | None = None, errors: dict[str, str] | None = None,
                           draft: dict[str, str] | None = None) -> HTMLResponse:
    status, festival = await call_api(request, "GET", "/api/festival")
    if status != 200:
        return render(request, "festival_editor.html", {"festival": None, "message": None,
                                                        "errors": {"form": "; ".join(reasons(festival))}})
    return render(request, "festival_editor.html", {"festival": {**festival, **(draft or {})}, "message": message,
                                                    "errors": errors or {}})


@router.get("/admin/fragments/v1/festival-editor", response_class=HTMLResponse)
async def festival_editor(request: Request):
    return refusal(request) or await _festival_editor(request)


@router.post("/admin/festival", response_class=HTMLResponse)
async def save_festival(request: Request):
    refused = refusal(request)
    if refused:
        return refused
    form = await request.form()
    body = {field: str(form.get(field, "")) for field in FESTIVAL_FIELDS}
    status, result = await call_api(request, "PATCH", "/api/admin/festival", body)
    if status != 200:
        return await _festival_editor(request, errors=field_reasons(result), draft=body)
    return await _festival_editor(request, message="Saved: buyers see the new details now.")


@router.post("/admin/festival/banner", response_class=HTMLResponse)
async def upload_banner(request: Request):
    refused = refusal(request)
    if refused:
        return refused
    form = await request.form()
    upload = form.get("banner")
    data = await upload.read() if upload is not None and not isinstance(upload, str) else b""
    if not data:
        return await _festival_editor(request, errors={"banner": "Choose an image file first."})
    return await _banner(request, "PUT", data, "Banner uploaded.")


@router.post("/admin/festival/banner/remove", response_class=HTMLResponse)
async def remove_banner(request: Request):
    return refusal(request) or await _banner(request, "DELETE", b"", "Banner removed.")


async def _banner(request: Request, method: str, data: bytes, done: str) -> HTMLResponse:
    try:
        headers = {**auth_headers(request), "Content-Type": "application/octet-stream"}
        resp = await request.app.state.api.request(method, "/api/admin/festival/banner", content=data,
                                                   headers=headers)
        body = resp.json()
    except (httpx.HTTPError, ValueError):
        return await _festival_editor(request, errors={"banner": "The order service cannot be reached right now."})
    if resp.status_code != 200:
        return await _festival_editor(request, errors={"banner": "; ".join(reasons(body))})
    return await _festival_editor(request, message=done)


@router.get("/admin/fragments/v1/orders", response_class=HTMLResponse)
async def orders_page(request: Request, q: str = ""):
    """Orders found by order number, buyer or email (newest first), with the CSV exports."""
    refused = refusal(request)
    if refused:
        return refused
    q = q.strip()[:200]
    status, found = await call_api(request, "GET", "/api/admin/orders?" + urlencode({"q": q, "limit": 100}))
    error = None if status == 200 else "; ".join(reasons(found))
    return render(request, "orders.html", {"orders": found if status == 200 else [], "q": q, "error": error})


async def _order(request: Request, order_id: str, message: str | None = None, error: str | None = None,
                 cancelling: bool = False) -> HTMLResponse:
    status, order = await call_api(request, "GET", f"/api/admin/orders/{quote(order_id, safe='')}")
    if status != 200:
        error = "; ".join([*([error] if error else []), *reasons(order)])
        order = None
    elif order["status"] != "CONFIRMED":
        cancelling = False
    return render(request, "order.html", {"order": order, "message": message, "error": error,
                                         "cancelling": cancelling})


@router.get("/admin/fragments/v1/order/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: str):
    """One order: buyer, lines, status, its tickets; cancel it or send its tickets again."""
    return refusal(request) or await _order(request, order_id)


@router.post("/admin/orders/{order_id}/cancel", response_class=HTMLResponse)
async def cancel_order(request: Request, order_id: str, reason: str = Form("cancelled by the organiser")):
    refused = refusal(request)
    if refused:
        return refused
    status, result = await call_api(request, "POST", f"/api/admin/orders/{quote(order_id, safe='')}/cancel",
                                {"reason": reason.strip()[:300] or "cancelled by the organiser"})
    if status != 202:
        return await _order(request, order_id, error="; ".join(reasons(result)))
    return await _order(request, order_id, message="Cancelling: the stock goes back on sale and the buyer is told.",
                        cancelling=True)


@router.post("/admin/orders/{order_id}/resend", response_class=HTMLResponse)
async def resend_tickets(request: Request, order_id: str):
    refused = refusal(request)
    if refused:
        return refused
    try:
        resp = await request.app.state.tickets_api.post(f"/api/checkin/orders/{quote(order_id, safe='')}/resend",
                                                        headers=auth_headers(request))
        body = resp.json()
    except (httpx.HTTPError, ValueError):
        return await _order(request, order_id, error="The tickets cannot be sent right now; try again in a moment.")
    if resp.status_code != 202:
        return await _order(request, order_id, error="; ".join(reasons(body)))
    return await _order(request, order_id, message="The tickets are on their way to the buyer again.")


@router.get("/admin/sse/updates")
async def updates(request: Request):
    """Server-sent `update` events {"kind": "sold"|"rejected"|"changed", "tickets": [{"ticket_id","stock"}]}."""
    identity = who_is_asking(request)
    if identity is None or not identity.is_admin:
        return JSONResponse({"detail": "admin role required"}, status_code=403)
    return EventSourceResponse(request.app.state.updates.sse_events("update"), ping=15)
