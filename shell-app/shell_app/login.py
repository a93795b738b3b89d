"""Logging in and out. The login page posts to /shell/login, which asks the order API (with the visitor's
address, so failures count per client) and sets the session cookie; /shell/logout revokes the token in
every app and drops the cookie."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from festflow_contracts.tokens import COOKIE_NAME
from festflow_runtime.api_answers import call_api
from festflow_runtime.fragment_app import page, parts
from festflow_runtime.web_auth import bearer, for_visitor, set_session

router = APIRouter()


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/", error: str | None = None, username: str = "",
                     until: str = "", notice: str = ""):
    return page(request, "Log in", "login", template="login_page.html", next=_safe_next(next), error=error,
                username=username[:64], until=until[:8], notice=notice[:20])


def _login_failed(error: str, target: str, username: str, **extra: str) -> RedirectResponse:
    """Back to the login page with the reason, keeping what the visitor typed as username."""
    return RedirectResponse("/login?" + urlencode({"error": error, "next": target, "username": username[:64],
                                                   **extra}), status_code=303)


@router.post("/shell/login")
async def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/")):
    target = _safe_next(next)
    if not username or not password:
        return _login_failed("missing", target, username)
    answer = await call_api(parts(request).api("orders"), "POST", "/api/auth/login",
                            json={"username": username, "password": password}, headers=for_visitor(request))
    detail = answer.body.get("detail", "") if isinstance(answer.body, dict) else ""
    if answer.status == 429:
        until = detail.split("locked until ", 1)[-1][:8] if "locked until " in detail else ""
        return _login_failed("locked", target, username, until=until)
    if answer.status >= 500:
        return _login_failed("unavailable", target, username)
    if answer.status == 403 and isinstance(answer.body, dict) and answer.body.get("proof") == "mailed_login_link":
        return _login_failed("proof", target, username)
    if answer.status != 200:
        return _login_failed("wrong", target, username)
    redirect = RedirectResponse(target, status_code=303)
    set_session(request, redirect, answer.body)
    return redirect


@router.post("/shell/logout")
async def logout(request: Request):
    """Revokes the token (every app refuses it from now on) and drops the cookie; the cookie goes even when
    the order API is away (the token expires on its own)."""
    if request.cookies.get(COOKIE_NAME):
        await call_api(parts(request).api("orders"), "POST", "/api/auth/logout", headers=bearer(request))
    redirect = RedirectResponse("/", status_code=303)
    redirect.delete_cookie(COOKIE_NAME, path="/")
    return redirect
