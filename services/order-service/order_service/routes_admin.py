"""Admin API for organisers and their scripts (admin bearer token only): ticket types and sales figures.
The inventory service owns tickets; these routes check the role and pass the change on."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import JSONResponse

from festflow_contracts.money import cents_to_str
from order_service.accounts import NewAccounts, create_accounts
from order_service.deps import AdminUser
from order_service.inventory_client import CatalogUnavailable
from order_service.routes_tickets import public_festival

router = APIRouter(prefix="/api/admin", tags=["admin"])


def admin_ticket(t: dict) -> dict:
    view = {"id": t["id"], "name": t["name"], "price": cents_to_str(t["price_cents"]),
            "price_cents": t["price_cents"], "stock": t["stock"], "active": t["active"], "version": t["version"],
            "description": t.get("description") or "", "sale_starts_at": t.get("sale_starts_at"),
            "sale_ends_at": t.get("sale_ends_at")}
    if "sold_meanwhile" in t:
        view["sold_meanwhile"] = t["sold_meanwhile"]
    return view


async def _forward(request: Request, method: str, path: str, body: dict | None = None):
    try:
        resp = await request.app.state.inventory.call(method, path, body)
    except CatalogUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    if resp.status_code >= 400:
        # the inventory's reasons (validation, conflicts) are the caller's to read
        return None, JSONResponse(resp.json(), status_code=resp.status_code)
    data = resp.json()
    if method != "GET" and isinstance(data, dict) and "version" in data and "id" in data:
        # this instance sells a new or changed type at once; the others hear of it on Kafka
        request.app.state.catalog.apply_ticket(data)
    return data, None


@router.get("/tickets")
async def list_tickets(request: Request, _admin: AdminUser):
    """Every ticket type, retired ones included. Prices are decimal strings in euros."""
    data, error = await _forward(request, "GET", "/internal/tickets?include_retired=true")
    return error or [admin_ticket(t) for t in data]


@router.post("/tickets", status_code=201)
async def create_ticket(request: Request, _admin: AdminUser, body: dict[str, Any] = Body(...)):
    """Create a ticket type: `{"name", "price": "39.90", "stock": 100, "id"?, "description"?,
    "sale_starts_at"?, "sale_ends_at"?}` (ISO date and time, UTC unless it names a zone)."""
    data, error = await _forward(request, "POST", "/internal/tickets", body)
    return error or JSONResponse(admin_ticket(data), status_code=201)


@router.patch("/tickets/{ticket_id}")
async def change_ticket(request: Request, ticket_id: str, _admin: AdminUser, body: dict[str, Any] = Body(...)):
    """Change `name`, `price`, `stock`, `active` (false retires the type), `description`, `sale_starts_at`
    or `sale_ends_at` ("" clears a bound). With `stock_seen` (the stock
    the caller last saw) a stock change is applied relative to it, keeping sales made meanwhile; it is
    refused with 409 "stock changed, reload" only when it would take the stock below zero."""
    data, error = await _forward(request, "PATCH", f"/internal/tickets/{quote(ticket_id, safe='')}", body)
    return error or admin_ticket(data)


@router.patch("/festival")
async def change_festival(request: Request, _admin: AdminUser, body: dict[str, Any] = Body(...)):
    """Change any of the festival's `name`, `starts_on`, `ends_on` (YYYY-MM-DD), `venue`, `address`,
    `description`; what is left out stays."""
    data, error = await _forward(request, "PATCH", "/internal/festival", body)
    if error:
        return error
    request.app.state.catalog.apply_festival(data)
    return public_festival(data)


@router.put("/festival/banner", openapi_extra={"requestBody": {"content": {"image/*": {}}, "required": True}})
async def put_banner(request: Request, _admin: AdminUser):
    """The banner image as the request body: PNG, JPEG, GIF or WebP, at most 2 MB (413 above, 415 for
    anything else)."""
    body = await request.body()
    if not body:
        raise HTTPException(422, "send the image as the request body (or DELETE to remove the banner)")
    return await _banner(request, body)


@router.delete("/festival/banner")
async def delete_banner(request: Request, _admin: AdminUser):
    return await _banner(request, b"")


async def _banner(request: Request, body: bytes):
    try:
        resp = await request.app.state.inventory.call_raw("PUT", "/internal/festival/banner", body)
    except CatalogUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    if resp.status_code >= 400:
        return JSONResponse(resp.json(), status_code=resp.status_code)
    request.app.state.catalog.apply_festival(resp.json())
    return public_festival(resp.json())


@router.get("/stats")
async def stats(request: Request, _admin: AdminUser):
    """KPIs and tickets sold over time (cumulative), for the dashboard."""
    data, error = await _forward(request, "GET", "/internal/stats")
    if error:
        return error
    data["revenue"] = cents_to_str(data["revenue_cents"])
    return data


@router.post("/users", status_code=201)
async def create_users(request: Request, _admin: AdminUser, body: NewAccounts):
    """Create buyer (or organiser) accounts in bulk, at most 1000 a call: `{"users": [{"username",
    "email", "password", "role"?}]}`. Names already taken are listed under `existing` and left as they are."""
    return await create_accounts(request.app.state.engine, body.users)
