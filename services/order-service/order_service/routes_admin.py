"""Admin API for organisers and their scripts (admin bearer token only): ticket types and sales figures.
The inventory service owns tickets; these routes check the role and pass the change on."""
from __future__ import annotations

import csv
import io
import logging
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Body, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from festflow_contracts.money import cents_to_str
from festflow_runtime.text import plain_text
from order_service import login
from order_service.accounts import NewAccounts, create_accounts
from order_service.bootstrap import Services
from order_service.cancellation import request_cancel
from order_service.db import orders, users
from order_service.deps import AdminUser, AppServices
from order_service.inventory_client import InventoryUnavailable
from order_service.ordering import OrderRefused
from order_service.views import order_view, public_festival

router = APIRouter(prefix="/api/admin", tags=["admin"])
log = logging.getLogger("order_service.admin")


def admin_ticket(t: dict) -> dict:
    view = {"id": t["id"], "name": t["name"], "price": cents_to_str(t["price_cents"]),
            "price_cents": t["price_cents"], "stock": t["stock"], "active": t["active"], "version": t["version"],
            "description": t.get("description") or "", "sale_starts_at": t.get("sale_starts_at"),
            "sale_ends_at": t.get("sale_ends_at"), "per_buyer_limit": t.get("per_buyer_limit"),
            "vat_rate": t.get("vat_rate", "0.00")}
    if "sold_meanwhile" in t:
        view["sold_meanwhile"] = t["sold_meanwhile"]
    return view


async def _forward(services: Services, method: str, path: str, body: dict | None = None):
    try:
        resp = await services.inventory.call(method, path, body)
    except InventoryUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    if resp.status_code >= 400:
        # the inventory's reasons (validation, conflicts) are the caller's to read
        return None, JSONResponse(resp.json(), status_code=resp.status_code)
    data = resp.json()
    if method != "GET" and isinstance(data, dict) and "version" in data and "id" in data:
        # this instance sells a new or changed type at once; the others hear of it on Kafka
        services.catalog.apply_ticket(data)
    return data, None


@router.get("/tickets")
async def list_tickets(services: AppServices, _admin: AdminUser):
    """Every ticket type, retired ones included. Prices are decimal strings in euros."""
    data, error = await _forward(services, "GET", "/internal/tickets?include_retired=true")
    return error or [admin_ticket(t) for t in data]


@router.post("/tickets", status_code=201)
async def create_ticket(services: AppServices, _admin: AdminUser, body: dict[str, Any] = Body(...)):
    """Create a ticket type: `{"name", "price": "39.90", "stock": 100, "id"?, "description"?,
    "sale_starts_at"?, "sale_ends_at"?, "per_buyer_limit"?, "vat_rate"?}` (ISO date and time, UTC unless it names
    a zone; `vat_rate`: the VAT the price includes, in percent, for invoices)."""
    data, error = await _forward(services, "POST", "/internal/tickets", body)
    return error or JSONResponse(admin_ticket(data), status_code=201)


@router.patch("/tickets/{ticket_id}")
async def change_ticket(services: AppServices, ticket_id: str, _admin: AdminUser, body: dict[str, Any] = Body(...)):
    """Change `name`, `price`, `stock`, `active` (false retires the type), `description`, `sale_starts_at`
    or `sale_ends_at` ("" clears a bound). With `stock_seen` (the stock
    the caller last saw) a stock change is applied relative to it, keeping sales made meanwhile; it is
    refused with 409 "stock changed, reload" only when it would take the stock below zero."""
    data, error = await _forward(services, "PATCH", f"/internal/tickets/{quote(ticket_id, safe='')}", body)
    return error or admin_ticket(data)


@router.patch("/festival")
async def change_festival(services: AppServices, _admin: AdminUser, body: dict[str, Any] = Body(...)):
    """Change any of the festival's `name`, `starts_on`, `ends_on` (YYYY-MM-DD), `venue`, `address`,
    `description`, and how buyers pay and who sells: `payment_hold_minutes` (1-120), `card_payments` (true:
    buyers may pay by card, their orders held `payment_hold_minutes`), `bank_transfer_days`
    (1-30), `iban` and `bic` (validated; "" for none), `beneficiary`, `vat_id`, `seller_address`; what is left
    out stays. A refusal names the field it concerns ("iban: not a valid IBAN ...")."""
    data, error = await _forward(services, "PATCH", "/internal/festival", body)
    if error:
        return error
    services.catalog.apply_festival(data)
    return public_festival(data)


@router.put("/festival/banner", openapi_extra={"requestBody": {"content": {"image/*": {}}, "required": True}})
async def put_banner(services: AppServices, request: Request, _admin: AdminUser):
    """The banner image as the request body: PNG, JPEG, GIF or WebP, at most 2 MB (413 above, 415 for
    anything else)."""
    body = await request.body()
    if not body:
        raise HTTPException(422, "send the image as the request body (or DELETE to remove the banner)")
    return await _banner(services, body)


@router.delete("/festival/banner")
async def delete_banner(services: AppServices, _admin: AdminUser):
    return await _banner(services, b"")


async def _banner(services: Services, body: bytes):
    try:
        resp = await services.inventory.call_raw("PUT", "/internal/festival/banner", body)
    except InventoryUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    if resp.status_code >= 400:
        return JSONResponse(resp.json(), status_code=resp.status_code)
    services.catalog.apply_festival(resp.json())
    return public_festival(resp.json())


@router.get("/stats")
async def stats(services: AppServices, _admin: AdminUser):
    """KPIs and tickets sold over time (cumulative), for the dashboard."""
    data, error = await _forward(services, "GET", "/internal/stats")
    if error:
        return error
    data["revenue"] = cents_to_str(data["revenue_cents"])
    return data


@router.post("/users", status_code=201)
async def create_users(services: AppServices, _admin: AdminUser, body: NewAccounts):
    """Create buyer (or organiser) accounts in bulk, at most 1000 a call: `{"users": [{"username",
    "email", "password", "role"?}]}`, or with a bcrypt `password_hash` instead of `password` (accounts
    imported from another system). Names already taken are listed under `existing` and left as they are."""
    return await create_accounts(services.engine, body.users)


@router.get("/login-locks")
async def login_locks(services: AppServices, _admin: AdminUser):
    """The login locks in force: `[{"username" ("*": every account), "address", "locked_until"}]`."""
    return await login.locks(services.engine)


@router.delete("/login-locks")
async def lift_login_locks(services: AppServices, admin: AdminUser,
                           username: Annotated[str, Query(min_length=1, max_length=64)],
                           address: Annotated[str | None, Query(max_length=64)] = None):
    """Lifts an account's login locks (`username`, "*" for an address's lock on every account), from one
    `address` or from all; says how many there were."""
    async with services.engine.begin() as conn:
        lifted = await login.lift_locks(conn, username, address)
    log.warning("login locks of %s%s lifted by %s (%d)", username, f" from address {address}" if address else "",
                admin.username, lifted)
    return {"lifted": lifted}


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="cancelled by the organiser", min_length=1, max_length=300)
    tickets: list[str] = Field(default_factory=list, max_length=1000)  # codes: only these tickets; [] the order

    @field_validator("reason")
    @classmethod
    def _text(cls, value: str) -> str:
        return plain_text(value).strip() or "cancelled by the organiser"


STATUS_PATTERN = "^(?i)(pending|awaiting_payment|confirmed|rejected|expired|cancelled)$"


def _search(q: str | None, status: str | None) -> Any:
    query = sa.select(orders, users.c.email).select_from(
        orders.outerjoin(users, users.c.username == orders.c.username))
    if q and q.strip():
        term = q.strip().lower()
        like = f"%{term.replace('%', '').replace('_', '')}%"
        query = query.where(sa.or_(orders.c.order_id.startswith(term), sa.func.lower(orders.c.username).like(like),
                                   sa.func.lower(users.c.email).like(like)))
    if status:
        query = query.where(orders.c.status == status.upper())
    return query.order_by(orders.c.created_at.desc(), orders.c.order_id)


def admin_order(row: Any) -> dict[str, Any]:
    return {**order_view(row), "username": row["username"], "email": row["email"]}


@router.get("/orders")
async def search_orders(services: AppServices, _admin: AdminUser, q: str | None = Query(None, max_length=200),
                        status: str | None = Query(None, pattern=STATUS_PATTERN),
                        limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=1_000_000)):
    """Orders, newest first: `q` finds an order id (from its start), a buyer's username or email."""
    async with services.engine.connect() as conn:
        rows = (await conn.execute(_search(q, status).limit(limit).offset(offset))).mappings().all()
    return [admin_order(row) for row in rows]


@router.get("/orders.csv", responses={200: {"content": {"text/csv": {}}}})
async def orders_csv(services: AppServices, _admin: AdminUser, q: str | None = Query(None, max_length=200)):
    """Every order (or those `q` finds): id, buyer, email, status, reason, tickets, total, times."""
    async with services.engine.connect() as conn:
        rows = (await conn.execute(_search(q, None))).mappings().all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["order_id", "username", "email", "status", "reason", "tickets", "total", "created_at",
                     "updated_at"])
    for row in rows:
        view = admin_order(row)
        tickets = "; ".join(f"{i['quantity']} x {i.get('name') or i['ticket_id']}" for i in view["items"])
        writer.writerow([_cell(v) for v in (view["order_id"], view["username"], view["email"], view["status"],
                                            view["reason"] or "", tickets, view["total"] or "",
                                            view["created_at"], view["updated_at"])])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="orders.csv"'})


def _cell(value: Any) -> Any:
    """A text cell a spreadsheet will not run as a formula."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


@router.get("/orders/{order_id}")
async def get_any_order(services: AppServices, order_id: str, _admin: AdminUser):
    """Any buyer's order, with its buyer, lines, status and tickets."""
    async with services.engine.connect() as conn:
        row = (await conn.execute(_search(None, None).where(orders.c.order_id == order_id))).mappings().first()
    if row is None:
        raise HTTPException(404, "no such order")
    return admin_order(row)


@router.post("/orders/{order_id}/cancel", status_code=202)
async def cancel_order(services: AppServices, order_id: str, _admin: AdminUser, body: CancelIn | None = None):
    """Cancels a confirmed order: its stock goes back on sale, its tickets become void and the buyer gets
    a mail; what it was paid is refunded. With `tickets` (their codes) only those: they become void, that many
    go back on sale, their price is refunded and the order stays confirmed with the others. 202: the
    cancellation is on its way (the order shows CANCELLED once the inventory has done it); 409 for an order
    that is neither confirmed nor awaiting payment; 422 for a code that is none of the order's valid tickets;
    404 for none."""
    body = body or CancelIn()
    try:
        answer = await request_cancel(services.engine, order_id, body.reason, tickets=body.tickets)
    except OrderRefused as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    services.commands.notify()
    return answer
