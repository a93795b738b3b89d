"""The page frame. Pages carry SSI includes of the micro-frontends' fragments; Nginx resolves them.

Pages: /, /login, /my-orders, /dashboard, /dashboard/tickets. Actions: POST /shell/login, POST /shell/logout.
"""
from __future__ import annotations

import re
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from festflow_contracts.tokens import COOKIE_NAME, TokenVerifier
from festflow_runtime.client_address import HEADER, client_address, trusted_networks
from festflow_runtime.revocations import subscribe_revocations
from festflow_runtime.same_origin import SameOriginMiddleware
from festflow_runtime.startup_heap import freeze_startup_heap
from shell_app.settings import Settings

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

# The fragments each page includes: (path, stub text). Listed in each provider's CONTRACT.md.
PAGES = {
    "home": [("/catalog/fragments/v1/festival", ""),
             ("/catalog/fragments/v1/ticket-list", "The ticket list is unavailable right now."),
             ("/cart/fragments/v1/cart", "The cart is unavailable right now.")],
    "my_orders": [("/cart/fragments/v1/my-orders", "Your orders are unavailable right now.")],
    "dashboard": [("/admin/fragments/v1/dashboard", "The dashboard is unavailable right now.")],
    "tickets": [("/admin/fragments/v1/ticket-editor", "The ticket editor is unavailable right now.")],
    "festival": [("/admin/fragments/v1/festival-editor", "The festival editor is unavailable right now.")],
    "security": [("/admin/fragments/v1/login-locks", "The login locks are unavailable right now.")],
    "gate": [("/gate/fragments/v1/scanner", "The scanner is unavailable right now.")],
}
NAV_FRAGMENT = ("/admin/fragments/v1/nav", "")


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings: Settings = app.state.settings
    app.state.verifier = TokenVerifier(settings.public_key_pem())
    revocations = subscribe_revocations(settings.kafka_bootstrap_servers, app.state.verifier)
    revocations.start()  # logged-out tokens are refused here too
    app.state.http = httpx.AsyncClient(base_url=settings.order_api_url, timeout=5.0,
                                       transport=app.state.order_api_transport)
    freeze_startup_heap()  # no full garbage collection walks what was made at start
    try:
        yield
    finally:
        await revocations.stop()
        await app.state.http.aclose()


router = APIRouter()


def create_app(settings: Settings | None = None, *,
               order_api_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The app (run by `uvicorn --factory shell_app.main:create_app`); tests pass a fake order API transport."""
    app = FastAPI(title="FestFlow shell", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # internal: no documents of its routes for strangers
    app.state.settings = settings or Settings()
    app.state.trusted_proxies = trusted_networks(app.state.settings.trusted_proxies)
    app.state.order_api_transport = order_api_transport
    app.add_middleware(SameOriginMiddleware)
    app.mount("/shell/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
    return app


def _for_visitor(request: Request) -> dict[str, str]:
    """The header that tells the order API which client an account form is for: its limits and lockouts
    are kept per client address, and the shell's own address is everyone's."""
    peer = request.client.host if request.client else None
    return {HEADER: client_address(peer, request.headers.get(HEADER), request.app.state.trusted_proxies)}


def _page(request: Request, page: str, title: str, **extra) -> HTMLResponse:
    identity = request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))
    status = extra.pop("status_code", 200)
    fragments = extra.pop("fragments", PAGES.get(page, []))
    return templates.TemplateResponse(request, "page.html", {
        "title": title, "identity": identity, "fragments": fragments, "nav_fragment": NAV_FRAGMENT,
        "page": page, "form": None, "errors": {}, "values": {}, **extra,
    }, status_code=status, headers={"Cache-Control": "no-store"})


def not_found_page(request: Request) -> HTMLResponse:
    return _page(request, "not_found", "Page not found", form="not_found", status_code=404)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/healthz")
async def healthz():
    return {"status": "ok"}


@router.get("/", response_class=HTMLResponse)
async def home(request: Request):
    return _page(request, "home", "Tickets")


@router.get("/my-orders", response_class=HTMLResponse)
async def my_orders(request: Request, page: int = 1):
    """The buyer's orders; `page` goes into the include path (a number, so nothing else gets in)."""
    path, stub = PAGES["my_orders"][0]
    page = min(max(page, 1), 10_000)
    return _page(request, "my_orders", "My orders", fragments=[(f"{path}?page={page}", stub)])


ORDER_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: str):
    """One order's page; the id goes into an include path, so only an order id's shape is let through."""
    if not ORDER_ID.fullmatch(order_id):
        return not_found_page(request)
    fragment = (f"/cart/fragments/v1/order/{order_id}", "This order is unavailable right now.")
    return _page(request, "order", f"Order {order_id[:8]}", fragments=[fragment])


TICKET_CODE = re.compile(r"^[A-Z0-9]{20}$")


@router.get("/tickets/{code}", response_class=HTMLResponse)
async def ticket_page(request: Request, code: str):
    """One ticket, large enough to scan from a phone; the code goes into an include path, so only a
    ticket code's shape is let through."""
    if not TICKET_CODE.fullmatch(code):
        return not_found_page(request)
    fragment = (f"/cart/fragments/v1/ticket/{code}", "This ticket is unavailable right now.")
    return _page(request, "ticket", "Ticket", fragments=[fragment])


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request):
    return _admin_page(request, "dashboard", "Admin dashboard")


@router.get("/dashboard/tickets", response_class=HTMLResponse)
async def tickets(request: Request):
    return _admin_page(request, "tickets", "Tickets")


@router.get("/gate", response_class=HTMLResponse)
async def gate(request: Request):
    """The gate's scanner (staff and admins; mf-gate says "not allowed" to anyone else)."""
    return _admin_page(request, "gate", "Gate")


@router.get("/dashboard/orders", response_class=HTMLResponse)
async def orders_page(request: Request, q: str = ""):
    """The organiser's orders; the search goes into the include path URL-encoded."""
    fragment = (f"/admin/fragments/v1/orders?{urlencode({'q': q[:200]})}", "The orders are unavailable right now.")
    return _admin_page(request, "orders", "Orders", fragments=[fragment])


@router.get("/dashboard/orders/{order_id}", response_class=HTMLResponse)
async def admin_order_page(request: Request, order_id: str):
    if not ORDER_ID.fullmatch(order_id):
        return not_found_page(request)
    fragment = (f"/admin/fragments/v1/order/{order_id}", "This order is unavailable right now.")
    return _admin_page(request, "order", f"Order {order_id[:8]}", fragments=[fragment])


@router.get("/dashboard/festival", response_class=HTMLResponse)
async def festival(request: Request):
    return _admin_page(request, "festival", "Festival")


@router.get("/dashboard/security", response_class=HTMLResponse)
async def security(request: Request):
    return _admin_page(request, "security", "Login locks")


def _admin_page(request: Request, page: str, title: str, **extra):
    if request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME)) is None:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    # mf-admin decides what a non-admin sees (its "not allowed" fragment)
    return _page(request, page, title, **extra)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/", error: str | None = None, username: str = "",
                     until: str = "", notice: str = ""):
    return _page(request, "login", "Log in", form="login", next=_safe_next(next), error=error,
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
    try:
        resp = await request.app.state.http.post("/api/auth/login", json={"username": username, "password": password},
                                                 headers=_for_visitor(request))
    except httpx.HTTPError:
        return _login_failed("unavailable", target, username)
    if resp.status_code == 429:
        detail = resp.json().get("detail", "")
        until = detail.split("locked until ", 1)[-1][:8] if "locked until " in detail else ""
        return _login_failed("locked", target, username, until=until)
    if resp.status_code == 503:
        return _login_failed("unavailable", target, username)
    if resp.status_code == 403 and resp.json().get("proof") == "mailed_login_link":
        return _login_failed("proof", target, username)
    if resp.status_code != 200:
        return _login_failed("wrong", target, username)
    redirect = RedirectResponse(target, status_code=303)
    _set_session(request, redirect, resp.json())
    return redirect


def _set_session(request: Request, response: Response, login: dict) -> None:
    response.set_cookie(COOKIE_NAME, login["access_token"], max_age=login["expires_in"], httponly=True,
                        samesite="lax", path="/",
                        secure=request.app.state.settings.cookie_secure
                        or request.headers.get("x-forwarded-proto") == "https")  # served over HTTPS


@router.get("/login-link", response_class=HTMLResponse)
async def login_link_page(request: Request, token: str = ""):
    """The mailed one-time login link. Opening it shows a button: a mail program that fetches links to
    look at them does not use it up."""
    return _page(request, "login_link", "Log in", form="login_link", token=token[:200])


@router.post("/shell/login-link")
async def login_by_link(request: Request, token: str = Form("")):
    try:
        resp = await request.app.state.http.post("/api/auth/login-link", json={"token": token[:200]},
                                                 headers=_for_visitor(request))
    except httpx.HTTPError:
        resp = None
    if resp is not None and resp.status_code == 200:
        redirect = RedirectResponse("/", status_code=303)
        _set_session(request, redirect, resp.json())
        return redirect
    errors = _field_errors(resp) if resp is not None and resp.status_code < 500 else UNAVAILABLE
    return _page(request, "login_link", "Log in", form="login_link", token=token[:200], errors=errors,
                 status_code=resp.status_code if resp is not None else 503)


@router.get("/account", response_class=HTMLResponse)
async def account_page(request: Request):
    """The logged-in buyer's account: who they are, a new password, log out everywhere."""
    identity = request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))
    if identity is None:
        return RedirectResponse("/login?" + urlencode({"next": "/account"}), status_code=303)
    return _page(request, "account", "Your account", form="account")


@router.post("/shell/logout-everywhere")
async def logout_everywhere(request: Request):
    """Ends every session of the account (every device's token is refused from now on)."""
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        return RedirectResponse("/login", status_code=303)
    try:
        resp = await request.app.state.http.post("/api/auth/logout-everywhere",
                                                 headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError:
        resp = None
    if resp is None or resp.status_code >= 500:
        return _page(request, "account", "Your account", form="account", errors=UNAVAILABLE, status_code=503)
    redirect = RedirectResponse("/login?" + urlencode({"notice": "logged-out-all"}), status_code=303)
    redirect.delete_cookie(COOKIE_NAME, path="/")
    return redirect


@router.post("/shell/logout")
async def logout(request: Request):
    """Revokes the token (every app refuses it from now on) and drops the cookie."""
    token = request.cookies.get(COOKIE_NAME)
    if token:
        try:
            await request.app.state.http.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError:
            pass  # the cookie goes all the same; the token expires on its own
    redirect = RedirectResponse("/", status_code=303)
    redirect.delete_cookie(COOKIE_NAME, path="/")
    return redirect


# --- accounts: sign-up, confirming the address, a new password (the order API does the work) ---

def _field_errors(resp: httpx.Response) -> dict[str, str]:
    """The API's refusal as {field: message} (`form` when it concerns no single field)."""
    try:
        body = resp.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    found: dict[str, str] = {}
    if isinstance(detail, list):  # a validation error: one entry per field
        for entry in detail:
            field = str(entry.get("loc", ["form"])[-1]) if isinstance(entry, dict) else "form"
            found.setdefault(field, _sentence(str(entry.get("msg", "invalid")), field))
    elif isinstance(detail, str):
        field = body.get("field") or "form"
        found[field] = _sentence(detail, field)
    return found or {"form": "That did not work; try again in a moment."}


def _sentence(message: str, field: str) -> str:
    message = message.removeprefix("Value error, ").removeprefix(f"{field}: ")
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


UNAVAILABLE = {"form": "This is unavailable right now; try again in a moment."}


@router.get("/signup", response_class=HTMLResponse)
async def signup_page(request: Request, done: str = ""):
    identity = request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))
    return _page(request, "signup", "Create an account", form="signup", done=done[:200], ready=identity is not None)


@router.post("/shell/signup")
async def signup(request: Request, username: str = Form(""), email: str = Form(""), password: str = Form("")):
    values = {"username": username[:64], "email": email[:200]}
    api = request.app.state.http
    try:
        resp = await api.post("/api/auth/register", json={"username": username, "email": email, "password": password},
                              headers=_for_visitor(request))
    except httpx.HTTPError:
        return _page(request, "signup", "Create an account", form="signup", values=values, errors=UNAVAILABLE,
                     status_code=503)
    if resp.status_code != 201:
        return _page(request, "signup", "Create an account", form="signup", values=values,
                     errors=_field_errors(resp), status_code=resp.status_code if resp.status_code < 500 else 503)
    account = resp.json()
    redirect = RedirectResponse("/signup?" + urlencode({"done": account["email"]}), status_code=303)
    try:  # logged in at once: the new buyer can fill a cart while the mail arrives
        login = await api.post("/api/auth/login", json={"username": account["username"], "password": password},
                               headers=_for_visitor(request))
        if login.status_code == 200:
            _set_session(request, redirect, login.json())
    except httpx.HTTPError:
        pass
    return redirect


@router.get("/verify-email", response_class=HTMLResponse)
async def verify_email(request: Request, token: str = ""):
    """The link of the confirmation mail. Opening it confirms the address (once)."""
    reason = "This link is not complete; open it from the mail again."
    if token:
        try:
            resp = await request.app.state.http.post("/api/auth/verify-email", json={"token": token[:200]})
        except httpx.HTTPError:
            resp = None
        if resp is not None and resp.status_code == 200:
            return _page(request, "verify", "Address confirmed", form="verify_email", verified=True,
                         verified_user=resp.json().get("username"))
        reason = (_field_errors(resp).get("form", reason) if resp is not None and resp.status_code < 500
                  else "We cannot confirm addresses right now; open the link again in a moment.")
    return _page(request, "verify", "Link not valid", form="verify_email", verified=False, reason=reason,
                 status_code=400)


@router.get("/forgot-password", response_class=HTMLResponse)
async def forgot_password_page(request: Request):
    return _page(request, "forgot", "Forgot your password?", form="forgot_password")


@router.post("/shell/password-reset")
async def password_reset(request: Request, email: str = Form("")):
    values = {"email": email[:200]}
    if "@" not in email:
        return _page(request, "forgot", "Forgot your password?", form="forgot_password", values=values,
                     errors={"email": "Enter the email address of your account."}, status_code=422)
    try:
        resp = await request.app.state.http.post("/api/auth/password-reset", json={"email": email[:200]},
                                                 headers=_for_visitor(request))
    except httpx.HTTPError:
        resp = None
    if resp is None or resp.status_code != 202:
        errors = _field_errors(resp) if resp is not None and resp.status_code < 500 else UNAVAILABLE
        return _page(request, "forgot", "Forgot your password?", form="forgot_password", values=values,
                     errors=errors, status_code=resp.status_code if resp is not None else 503)
    return _page(request, "forgot", "Forgot your password?", form="forgot_password", sent=resp.json()["detail"])


@router.get("/reset-password", response_class=HTMLResponse)
async def reset_password_page(request: Request, token: str = ""):
    return _page(request, "reset", "Set a new password", form="reset_password", token=token[:200])


@router.post("/shell/reset-password")
async def reset_password(request: Request, token: str = Form(""), password: str = Form("")):
    try:
        resp = await request.app.state.http.post("/api/auth/password-reset/confirm",
                                                 json={"token": token[:200], "password": password},
                                                 headers=_for_visitor(request))
    except httpx.HTTPError:
        resp = None
    if resp is not None and resp.status_code == 200:
        return RedirectResponse("/login?" + urlencode({"notice": "password-set",
                                                       "username": resp.json()["username"]}), status_code=303)
    errors = _field_errors(resp) if resp is not None and resp.status_code < 500 else UNAVAILABLE
    return _page(request, "reset", "Set a new password", form="reset_password", token=token[:200], errors=errors,
                 status_code=resp.status_code if resp is not None else 503)


@router.get("/shell/not-found", response_class=HTMLResponse)
async def not_found(request: Request):
    """What the gateway shows for a URL nothing serves (an HTML page, with the site's frame)."""
    return not_found_page(request)
