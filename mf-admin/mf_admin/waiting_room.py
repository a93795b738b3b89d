"""The organiser's waiting room (through the waiting room service): set it up in front of the sale (when it
opens and starts, how long a turn lasts, the admission rate, which ticket types), follow the drop live
(joined, waiting, admitted, bought, tickets left) and read its fairness report afterwards (the commitment and
the seed that anyone can check the draw with)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from festflow_runtime.api_answers import field_errors, reason
from festflow_runtime.fragment_app import render
from festflow_runtime.web_auth import AdminUser
from mf_admin.web import order_api, waiting_room_api

router = APIRouter()
FIELDS = ("enabled", "prequeue_opens_at", "sale_starts_at", "pass_minutes", "admit_per_minute", "ticket_ids",
          "reset")


def as_utc(local: str) -> str:
    """A form's date and time (`2027-03-01T10:00`, said to be UTC on the form) as an ISO 8601 moment."""
    local = local.strip()
    return f"{local}:00Z" if len(local) == 16 else local


def for_input(moment: Any) -> str:
    """A moment as a datetime-local input shows it (UTC, to the minute)."""
    return str(moment or "")[:16]


async def _editor(request: Request, message: str | None = None, errors: dict[str, str] | None = None,
                  draft: dict[str, Any] | None = None) -> HTMLResponse:
    current = await waiting_room_api(request, "GET", "/api/admin/waiting-room")
    tickets = await order_api(request, "GET", "/api/admin/tickets")
    room: dict[str, Any] = current.body if current.ok else {"enabled": False}
    errors = dict(errors or {})
    if not current.ok:
        errors.setdefault("form", reason(current.body))
    shown = {"enabled": room.get("enabled", False), "prequeue_opens_at": for_input(room.get("prequeue_opens_at")),
             "sale_starts_at": for_input(room.get("sale_starts_at")), "pass_minutes": room.get("pass_minutes") or 10,
             "admit_per_minute": room.get("admit_per_minute") or "",
             "ticket_ids": room.get("ticket_ids") or []} | (draft or {})
    return render(request, "waiting_room.html", {
        "room": room, "form": shown, "message": message, "errors": errors,
        "tickets": [t for t in (tickets.body if tickets.ok else []) if t.get("active", True)]})


@router.get("/admin/fragments/v1/waiting-room", response_class=HTMLResponse)
async def editor(request: Request, _admin: AdminUser):
    return await _editor(request)


@router.get("/admin/fragments/v1/waiting-room-figures", response_class=HTMLResponse)
async def figures(request: Request, _admin: AdminUser):
    """The drop live (it looks again every 2 s), and its fairness report."""
    found = await waiting_room_api(request, "GET", "/api/admin/waiting-room/report")
    return render(request, "waiting_room_figures.html", {
        "report": found.body if found.ok else None,
        "error": None if found.ok or found.status == 404 else reason(found.body)})


@router.post("/admin/waiting-room", response_class=HTMLResponse)
async def save(request: Request, _admin: AdminUser):
    form = await request.form()
    draft: dict[str, Any] = {"enabled": form.get("enabled") == "on",
                             "prequeue_opens_at": str(form.get("prequeue_opens_at", "")),
                             "sale_starts_at": str(form.get("sale_starts_at", "")),
                             "pass_minutes": str(form.get("pass_minutes", "")).strip(),
                             "admit_per_minute": str(form.get("admit_per_minute", "")).strip(),
                             "ticket_ids": [str(t) for t in form.getlist("ticket_ids")]}
    body = {**draft, "prequeue_opens_at": as_utc(draft["prequeue_opens_at"]),
            "sale_starts_at": as_utc(draft["sale_starts_at"]),
            "pass_minutes": draft["pass_minutes"] or 10, "admit_per_minute": draft["admit_per_minute"] or None,
            "reset": form.get("reset") == "on"}
    saved = await waiting_room_api(request, "PUT", "/api/admin/waiting-room", body)
    if not saved.ok:
        return await _editor(request, errors=field_errors(saved.body, FIELDS), draft=draft)
    done = ("Saved: the waiting room is on." if saved.body["enabled"] else "Saved: the waiting room is off.")
    return await _editor(request, message=done + (" A new round: a new seed, every place given up."
                                                  if body["reset"] else ""))
