"""The organiser's view of login locks (the order API's /api/admin/login-locks): which account is locked
for which address, until when, and a button that lifts a lock."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from mf_admin.web import call_api, reasons, refusal, render

router = APIRouter()


async def _locks(request: Request, message: str | None = None, error: str | None = None,
                 status_code: int = 200) -> HTMLResponse:
    status, found = await call_api(request, "GET", "/api/admin/login-locks")
    if status != 200 or not isinstance(found, list):
        error = "; ".join(reasons(found)) if status != 200 else "the order service answered something unexpected"
        found = []
    return render(request, "login_locks.html", {"locks": found, "message": message, "error": error},
                 status_code=status_code)


@router.get("/admin/fragments/v1/login-locks", response_class=HTMLResponse)
async def login_locks_page(request: Request):
    """The login locks in force, newest first."""
    return refusal(request) or await _locks(request)


@router.post("/admin/login-locks/lift", response_class=HTMLResponse)
async def lift(request: Request, username: str = Form(""), address: str = Form("")):
    """Lifts one lock (an account's from one address, or an address's for every account)."""
    refused = refusal(request)
    if refused:
        return refused
    status, body = await call_api(request, "DELETE", "/api/admin/login-locks?" + urlencode(
        {"username": username[:64], "address": address[:64]}))
    if status != 200:
        return await _locks(request, error="; ".join(reasons(body)), status_code=status if status < 500 else 503)
    who = "every account" if username == "*" else username
    return await _locks(request, message=f"Lifted: {who} from {address}.")
