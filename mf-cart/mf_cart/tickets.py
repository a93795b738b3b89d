"""One ticket (the ticketing service's API): its QR code large enough to scan from a phone, the festival,
and its holder's name."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from festflow_runtime import display
from festflow_runtime.api_answers import reason
from festflow_runtime.fragment_app import render
from festflow_runtime.web_auth import visitor
from mf_cart.web import ticketing_api

router = APIRouter()


def ticket_view(ticket: dict[str, Any]) -> dict[str, Any]:
    festival = ticket.get("festival") or None
    when = display.date_range(festival.get("starts_on"), festival.get("ends_on")) if festival else ""
    where = display.place(festival.get("venue"), festival.get("address")) if festival else ""
    return {**ticket, "festival": festival, "when": when, "where": where}


async def _ticket_page(request: Request, code: str, message: str | None = None,
                       holder_error: str | None = None) -> HTMLResponse:
    identity = visitor(request)
    ticket, error, status = None, None, 200
    if identity:
        found = await ticketing_api(request, "GET", f"/api/tickets/{quote(code, safe='')}")
        if found.status == 404:
            error, status = "There is no such ticket in your account.", 404
        elif found.ok:
            ticket = ticket_view(found.body)
        else:
            error = "This ticket cannot be loaded right now; try again in a moment."
    return render(request, "ticket.html", {"identity": identity, "ticket": ticket, "error": error, "code": code,
                                           "message": message, "holder_error": holder_error}, status_code=status)


@router.get("/cart/fragments/v1/ticket/{code}", response_class=HTMLResponse)
async def ticket_detail(request: Request, code: str):
    """One ticket, its QR code large enough to scan from a phone, the festival, and its holder's name."""
    return await _ticket_page(request, code)


@router.post("/cart/tickets/{code}/holder", response_class=HTMLResponse)
async def set_holder(request: Request, code: str, holder: str = Form("")):
    saved = await ticketing_api(request, "PUT", f"/api/tickets/{quote(code, safe='')}/holder", json={"holder": holder})
    if not saved.reached:
        return await _ticket_page(request, code, holder_error="The name cannot be saved right now; try again.")
    if not saved.ok:
        return await _ticket_page(request, code, holder_error=reason(saved.body))
    return await _ticket_page(request, code, message="Saved.")
