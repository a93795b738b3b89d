"""The page frame. Pages carry SSI includes of the micro-frontends' fragments; Nginx resolves them.

Pages: /, /login, /my-orders, /dashboard, /dashboard/tickets. Actions: POST /shell/login, POST /shell/logout.
"""
from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from festflow_contracts.tokens import COOKIE_NAME, TokenVerifier
from festflow_runtime.revocations import subscribe_revocations
from festflow_runtime.same_origin import SameOriginMiddleware

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

# The fragments each page includes: (path, stub text). Listed in each provider's CONTRACT.md.
PAGES = {
    "home": [("/catalog/fragments/v1/ticket-list", "The ticket list is unavailable right now."),
             ("/cart/fragments/v1/cart", "The cart is unavailable right now.")],
    "my_orders": [("/cart/fragments/v1/my-orders", "Your orders are unavailable right now.")],
    "dashboard": [("/admin/fragments/v1/dashboard", "The dashboard is unavailable right now.")],
    "tickets": [("/admin/fragments/v1/ticket-editor", "The ticket editor is unavailable right now.")],
}
NAV_FRAGMENT = ("/admin/fragments/v1/nav", "")


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.verifier = TokenVerifier.from_env()
    revocations = subscribe_revocations(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"), app.state.verifier)
    revocations.start()  # logged-out tokens are refused here too
    app.state.http = httpx.AsyncClient(base_url=os.environ.get("ORDER_API_URL", "http://127.0.0.1:8000"),
                                       timeout=5.0)
    try:
        yield
    finally:
        await revocations.stop()
        await app.state.http.aclose()


app = FastAPI(title="FestFlow shell", lifespan=lifespan, docs_url=None, redoc_url=None)
app.add_middleware(SameOriginMiddleware)
app.mount("/shell/static", StaticFiles(directory=HERE / "static"), name="static")


def _page(request: Request, page: str, title: str, **extra) -> HTMLResponse:
    identity = request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))
    return templates.TemplateResponse(request, "page.html", {
        "title": title, "identity": identity, "fragments": PAGES.get(page, []), "nav_fragment": NAV_FRAGMENT,
        "page": page, **extra,
    }, headers={"Cache-Control": "no-store"})


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


@app.get("/", response_class=HTMLResponse)
async def home(request: Request):
    return _page(request, "home", "Tickets")


@app.get("/my-orders", response_class=HTMLResponse)
async def my_orders(request: Request):
    return _page(request, "my_orders", "My orders")


@app.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request):
    return _admin_page(request, "dashboard", "Admin dashboard")


@app.get("/dashboard/tickets", response_class=HTMLResponse)
async def tickets(request: Request):
    return _admin_page(request, "tickets", "Tickets")


def _admin_page(request: Request, page: str, title: str):
    if request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME)) is None:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    # mf-admin decides what a non-admin sees (its "not allowed" fragment)
    return _page(request, page, title)


@app.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/", error: str | None = None, username: str = "",
                     until: str = ""):
    return _page(request, "login", "Log in", next=_safe_next(next), error=error, username=username[:64],
                 until=until[:8])


def _login_failed(error: str, target: str, username: str, **extra: str) -> RedirectResponse:
    """Back to the login page with the reason, keeping what the visitor typed as username."""
    return RedirectResponse("/login?" + urlencode({"error": error, "next": target, "username": username[:64],
                                                   **extra}), status_code=303)


@app.post("/shell/login")
async def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/")):
    target = _safe_next(next)
    if not username or not password:
        return _login_failed("missing", target, username)
    try:
        resp = await app.state.http.post("/api/auth/login", json={"username": username, "password": password})
    except httpx.HTTPError:
        return _login_failed("unavailable", target, username)
    if resp.status_code == 429:
        detail = resp.json().get("detail", "")
        until = detail.split("locked until ", 1)[-1][:8] if "locked until " in detail else ""
        return _login_failed("locked", target, username, until=until)
    if resp.status_code == 503:
        return _login_failed("unavailable", target, username)
    if resp.status_code != 200:
        return _login_failed("wrong", target, username)
    body = resp.json()
    redirect = RedirectResponse(target, status_code=303)
    redirect.set_cookie(COOKIE_NAME, body["access_token"], max_age=body["expires_in"], httponly=True,
                        samesite="lax", path="/",
                        secure=os.environ.get("COOKIE_SECURE", "false").lower() == "true"
                        or request.headers.get("x-forwarded-proto") == "https")  # served over HTTPS
    return redirect


@app.post("/shell/logout")
async def logout(request: Request):
    """Revokes the token (every app refuses it from now on) and drops the cookie."""
    token = request.cookies.get(COOKIE_NAME)
    if token:
        try:
            await app.state.http.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError:
            pass  # the cookie goes all the same; the token expires on its own
    redirect = RedirectResponse("/", status_code=303)
    redirect.delete_cookie(COOKIE_NAME, path="/")
    return redirect
