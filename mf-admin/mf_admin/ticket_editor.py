"""Ticket types, edited inline: name, price, stock (relative to what the editor showed), description, sale
window and limit per buyer; new types added, types retired and put back on sale."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from festflow_runtime.api_answers import reasons
from festflow_runtime.fragment_app import render
from festflow_runtime.web_auth import AdminUser
from mf_admin.web import order_api

router = APIRouter()


def local_input(iso: str) -> str:
    """"2027-03-01T10:00Z" -> "2027-03-01T10:00", the value of a datetime-local input (in UTC)."""
    return iso.removesuffix("Z")[:16]


async def _editor(request: Request, message: str | None = None, errors: list[str] | None = None,
                  draft: dict | None = None) -> HTMLResponse:
    tickets = await order_api(request, "GET", "/api/admin/tickets")
    errors = (errors or []) + ([] if tickets.ok else reasons(tickets.body))
    return render(request, "ticket_editor.html", {"tickets": tickets.body if tickets.ok else [],
                                                  "message": message, "errors": errors, "draft": draft or {}})


@router.get("/admin/fragments/v1/ticket-editor", response_class=HTMLResponse)
async def ticket_editor(request: Request, _admin: AdminUser):
    return await _editor(request)


@router.post("/admin/tickets/{ticket_id}", response_class=HTMLResponse)
async def save_ticket(request: Request, ticket_id: str, _admin: AdminUser, name: str = Form(""),
                      price: str = Form(""), stock: str = Form(""), stock_seen: str = Form(""),
                      description: str = Form(""), sale_starts_at: str = Form(""), sale_ends_at: str = Form(""),
                      per_buyer_limit: str = Form("")):
    """SAVE CHANGES of one row: answers the row, saved (with what happened meanwhile) or with the reasons."""
    body = {"name": name, "price": price, "stock": stock, "stock_seen": stock_seen, "description": description,
            "sale_starts_at": sale_starts_at, "sale_ends_at": sale_ends_at, "per_buyer_limit": per_buyer_limit}
    saved = await order_api(request, "PATCH", f"/api/admin/tickets/{quote(ticket_id, safe='')}", body)
    if saved.ok:
        note = "Saved."
        if saved.body.get("sold_meanwhile"):
            note += f" {saved.body['sold_meanwhile']} sold while you edited: STOCK is now {saved.body['stock']}."
        return render(request, "ticket_row.html", {"t": saved.body, "message": note, "errors": []})
    draft = {"id": ticket_id, **body, "active": True}
    current = await order_api(request, "GET", "/api/admin/tickets")
    live = next((t for t in current.body if t["id"] == ticket_id), None) if current.ok else None
    return render(request, "ticket_row.html", {"t": live or draft, "draft": draft, "errors": reasons(saved.body)})


@router.post("/admin/tickets/{ticket_id}/active", response_class=HTMLResponse)
async def set_active(request: Request, ticket_id: str, _admin: AdminUser, active: str = Form("false")):
    """Retire (active=false) or put back on sale (active=true)."""
    on_sale = active == "true"
    changed = await order_api(request, "PATCH", f"/api/admin/tickets/{quote(ticket_id, safe='')}",
                              {"active": on_sale})
    if not changed.ok:
        return await _editor(request, errors=reasons(changed.body))
    return await _editor(request, message=f"{changed.body['name']} is {'on sale again' if on_sale else 'retired'}.")


@router.post("/admin/tickets", response_class=HTMLResponse)
async def create_ticket(request: Request, _admin: AdminUser, name: str = Form(""), price: str = Form(""),
                        stock: str = Form(""), description: str = Form("")):
    new = {"name": name, "price": price, "stock": stock, "description": description}
    created = await order_api(request, "POST", "/api/admin/tickets", new)
    if created.status != 201:
        return await _editor(request, errors=reasons(created.body), draft=new)
    ticket = created.body
    return await _editor(request, message=f"{ticket['name']} added: €{ticket['price']}, stock {ticket['stock']}.")
