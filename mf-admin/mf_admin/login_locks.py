"""The organiser's view of login locks (the order API's /api/admin/login-locks): which account is locked
for which address, until when, and a button that lifts a lock."""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from festflow_runtime.api_answers import reason
from festflow_runtime.fragment_app import render
from festflow_runtime.web_auth import AdminUser
from mf_admin.web import order_api

router = APIRouter()


async def _locks(request: Request, message: str | None = None, error: str | None = None,
                 status_code: int = 200) -> HTMLResponse:
    found = await order_api(request, "GET", "/api/admin/login-locks")
    locks = found.body if found.ok and isinstance(found.body, list) else []
    if not found.ok:
        error = reason(found.body)
    elif not isinstance(found.body, list):
        error = "the order service answered something unexpected"
    return render(request, "login_locks.html", {"locks": locks, "message": message, "error": error},
                  status_code=status_code)


@router.get("/admin/fragments/v1/login-locks", response_class=HTMLResponse)
async def login_locks_page(request: Request, _admin: AdminUser):
    """The login locks in force, newest first."""
    return await _locks(request)


@router.post("/admin/login-locks/lift", response_class=HTMLResponse)
async def lift(request: Request, _admin: AdminUser, username: str = Form(""), address: str = Form("")):
    """Lifts one lock (an account's from one address, or an address's for every account)."""
    lifted = await order_api(request, "DELETE", "/api/admin/login-locks",
                             params={"username": username[:64], "address": address[:64]})
    if not lifted.ok:
        status = lifted.status if lifted.status < 500 else 503
        return await _locks(request, error=reason(lifted.body), status_code=status)
    who = "every account" if username == "*" else username
    return await _locks(request, message=f"Lifted: {who} from {address}.")
