"""Fragments (see CONTRACT.md): /cart/fragments/v1/cart, /cart/fragments/v1/my-orders.
HTMX actions: POST /cart/items, /cart/items/{id}/quantity, /cart/items/{id}/remove, /cart/checkout.

The cart itself is kept by the order API (`/api/cart`): a logged-in buyer's belongs to their account,
an anonymous visitor's to the random token in the `festflow_cart` cookie, merged into the account at
login. This app only renders it and forwards the buyer's actions; rendering never writes anything.
"""
from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from festflow_contracts.money import cents_to_str
from festflow_contracts.tokens import COOKIE_NAME, TokenVerifier
from festflow_runtime.revocations import subscribe_revocations
from festflow_runtime.same_origin import SameOriginMiddleware
from festflow_runtime.startup_heap import freeze_startup_heap
from mf_cart import cart_page
from mf_cart.settings import Settings
from mf_cart.times import festival_dates, when

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["when"] = when
PAGE_SIZE = 20
CART_COOKIE = "festflow_cart"  # an anonymous visitor's cart token (a UUID)
COOKIE_AGE = 7 * 24 * 3600
# below the gateway's 5 s for /cart/, so this app always answers before the gateway gives up
API_TIMEOUT = 4.0


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings: Settings = app.state.settings
    app.state.verifier = TokenVerifier(settings.public_key_pem())
    revocations = subscribe_revocations(settings.kafka_bootstrap_servers, app.state.verifier)
    revocations.start()  # logged-out tokens are refused here too
    app.state.api = httpx.AsyncClient(base_url=settings.order_api_url, timeout=API_TIMEOUT,
                                      transport=app.state.order_api_transport)
    app.state.tickets_api = httpx.AsyncClient(base_url=settings.ticketing_api_url, timeout=API_TIMEOUT,
                                              transport=app.state.order_api_transport)
    freeze_startup_heap()  # no full garbage collection walks what was made at start
    try:
        yield
    finally:
        await revocations.stop()
        await app.state.api.aclose()
        await app.state.tickets_api.aclose()


router = APIRouter()


def create_app(settings: Settings | None = None, *,
               order_api_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The app (run by `uvicorn --factory mf_cart.main:create_app`); tests pass a fake order API transport."""
    app = FastAPI(title="FestFlow cart micro-frontend", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # internal: no documents of its routes for strangers
    app.state.settings = settings or Settings()
    app.state.order_api_transport = order_api_transport
    app.add_middleware(SameOriginMiddleware)
    app.mount("/cart/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
    return app


class ApiDown(Exception):
    pass


def _cart_token(request: Request) -> str | None:
    raw = request.cookies.get(CART_COOKIE, "")
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None


def _headers(request: Request, token: str | None = None) -> dict[str, str]:
    headers = {}
    if jwt := request.cookies.get(COOKIE_NAME):
        headers["Authorization"] = f"Bearer {jwt}"
    if token := token or _cart_token(request):
        headers["X-Cart-Token"] = token
    return headers


async def _call(request: Request, method: str, path: str, token: str | None = None,
                json: dict[str, Any] | None = None, params: dict[str, Any] | None = None) -> httpx.Response:
    try:
        return await request.app.state.api.request(method, path, json=json, params=params,
                                                   headers=_headers(request, token))
    except httpx.HTTPError as exc:
        raise ApiDown(str(exc)) from exc


async def _catalog(request: Request) -> dict[str, dict] | None:
    try:
        resp = await request.app.state.api.get("/api/tickets")
        resp.raise_for_status()
    except httpx.HTTPError:
        return None
    return {t["id"]: t for t in resp.json()}


EMPTY_CART = {"version": 0, "items": [], "notice": None, "last_order": None}


async def _render(request: Request, cart: dict[str, Any] | None = None, *, message: str | None = None,
                  error: str | None = None, line_errors: dict[str, str] | None = None,
                  trigger: str | None = None, set_token: str | None = None, focus: bool = False,
                  unverified: bool = False) -> HTMLResponse:
    """The cart fragment. `cart` is the order API's answer to the action, or None to fetch it now."""
    identity = request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))
    unavailable = False
    if cart is None:
        cart = EMPTY_CART
        if identity or _cart_token(request):
            try:
                resp = await _call(request, "GET", "/api/cart")
                if resp.status_code == 200:
                    cart = resp.json()
                elif resp.status_code != 401:
                    unavailable = True
            except ApiDown:
                unavailable = True
    page = cart_page.build(cart, await _catalog(request) if cart["items"] else {})
    response = templates.TemplateResponse(request, "cart.html", {
        "identity": identity, "page": page, "message": message, "line_errors": line_errors or {},
        "error": error or ("Your cart cannot be loaded right now; try again in a moment." if unavailable else None),
        "focus": focus, "catalog_down": cart_page.CATALOG_DOWN, "unverified": unverified,
    }, headers={"Cache-Control": "no-store"})
    if set_token:
        response.set_cookie(CART_COOKIE, set_token, max_age=COOKIE_AGE, httponly=True, samesite="lax", path="/")
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response


def _detail(resp: httpx.Response) -> str:
    try:
        detail = resp.json().get("detail")
    except ValueError:
        return f"error {resp.status_code}"
    if isinstance(detail, list):  # a validation error list
        return "; ".join(str(item.get("msg", item)) for item in detail)
    return str(detail or f"error {resp.status_code}")


def _quantity(raw: str) -> int | None:
    raw = raw.strip()
    if raw.startswith("-") and raw[1:].isdigit():
        return -int(raw[1:])
    return int(raw) if raw.isdigit() and len(raw) <= 6 else None


UNREACHABLE = "We could not reach the order service; your cart is unchanged. Please try again."


@router.get("/healthz")
async def healthz():
    return {"status": "ok"}


@router.get("/cart/fragments/v1/cart", response_class=HTMLResponse)
async def cart_fragment(request: Request):
    return await _render(request)


@router.post("/cart/items", response_class=HTMLResponse)
async def add_item(request: Request, ticket_id: str = Form(""), quantity: str = Form("1")):
    qty = _quantity(quantity)
    if qty is None:
        return await _render(request, error="Quantity must be a whole number.")
    identity = request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))
    new_token = None if identity or _cart_token(request) else str(uuid.uuid4())
    try:
        resp = await _call(request, "POST", "/api/cart/items", token=new_token,
                           json={"ticket_id": ticket_id, "quantity": qty})
    except ApiDown:
        return await _render(request, error=UNREACHABLE)
    if resp.status_code != 200:
        return await _render(request, error=_detail(resp), set_token=new_token)
    cart = resp.json()
    name = next((i["name"] for i in cart["items"] if i["ticket_id"] == ticket_id), ticket_id)
    return await _render(request, cart, message=f"Added {qty} × {name}.", trigger="cart:updated",
                         set_token=new_token)


@router.post("/cart/items/{ticket_id}/quantity", response_class=HTMLResponse)
async def set_quantity(request: Request, ticket_id: str, quantity: str = Form("")):
    qty = _quantity(quantity)
    if qty is None:
        return await _render(request, line_errors={ticket_id: "Enter a whole number from 0 to 10."})
    try:
        resp = await _call(request, "PUT", f"/api/cart/items/{quote(ticket_id, safe='')}", json={"quantity": qty})
    except ApiDown:
        return await _render(request, error=UNREACHABLE)
    if resp.status_code != 200:
        return await _render(request, line_errors={ticket_id: _detail(resp)})
    return await _render(request, resp.json(), trigger="cart:updated",
                         message="Removed from your cart." if qty == 0 else None)


@router.post("/cart/items/{ticket_id}/remove", response_class=HTMLResponse)
async def remove_item(request: Request, ticket_id: str):
    try:
        resp = await _call(request, "DELETE", f"/api/cart/items/{quote(ticket_id, safe='')}")
    except ApiDown:
        return await _render(request, error=UNREACHABLE)
    if resp.status_code != 200:
        return await _render(request, error=_detail(resp))
    return await _render(request, resp.json(), message="Removed from your cart.", trigger="cart:updated")


@router.post("/cart/checkout", response_class=HTMLResponse)
async def checkout(request: Request, version: str = Form("")):
    if request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME)) is None:
        return await _render(request, error="Please log in to check out.", focus=True)
    if not version.isdigit():
        return await _render(request, error="Your cart changed; check it and try again.", focus=True)
    try:
        resp = await _call(request, "POST", "/api/cart/checkout", json={"version": int(version)})
    except ApiDown:
        return await _render(request, error="We could not reach the order service, so we do not know yet "
                                            "whether your order was placed. Check the cart again in a moment.",
                             focus=True)
    if resp.status_code == 202:
        order = resp.json()
        return await _render(request, message=f"Order {order['order_id'][:8]} placed: waiting for confirmation.",
                             trigger="order:placed", focus=True)
    if resp.status_code == 401:
        return await _render(request, error="Your session has expired; please log in again.", focus=True)
    if resp.status_code == 403:
        return await _render(request, error="Confirm your email address first: open the link in the mail we sent "
                                            "you. Your cart stays as it is.", focus=True, unverified=True)
    return await _render(request, error=f"Checkout failed: {_detail(resp)}", focus=True)


@router.post("/cart/verification", response_class=HTMLResponse)
async def resend_verification(request: Request):
    """Another mail with the link that confirms the buyer's address."""
    try:
        resp = await _call(request, "POST", "/api/auth/verify-email/resend")
    except ApiDown:
        return await _render(request, error="We could not send the link right now; try again in a moment.",
                             focus=True, unverified=True)
    if resp.status_code != 202:
        return await _render(request, error=f"We could not send the link: {_detail(resp)}", focus=True)
    return await _render(request, message=resp.json()["detail"], focus=True)


@router.get("/cart/fragments/v1/my-orders", response_class=HTMLResponse)
async def my_orders(request: Request, page: int = 1):
    """The buyer's orders, newest first, PAGE_SIZE a page; a banner while the address is unconfirmed."""
    identity = request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))
    page = min(max(page, 1), 10_000)
    orders, error, more, unverified = [], None, False, False
    if identity:
        try:
            resp = await _call(request, "GET", "/api/orders",
                               params={"limit": PAGE_SIZE + 1, "offset": (page - 1) * PAGE_SIZE})
            resp.raise_for_status()
            orders = resp.json()
            more, orders = len(orders) > PAGE_SIZE, orders[:PAGE_SIZE]
            me = await _call(request, "GET", "/api/auth/me")
            unverified = me.status_code == 200 and me.json().get("email_verified") is False
        except (ApiDown, httpx.HTTPError):
            error = "Your orders cannot be loaded right now."
    return templates.TemplateResponse(request, "my_orders.html",
                                      {"identity": identity, "orders": orders, "error": error, "page": page,
                                       "more": more, "unverified": unverified},
                                      headers={"Cache-Control": "no-store"})


@router.get("/cart/fragments/v1/order/{order_id}", response_class=HTMLResponse)
async def order_detail(request: Request, order_id: str):
    """One order: its lines with prices, status, reason, total and times."""
    identity = request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))
    order, error, status = None, None, 200
    if identity:
        try:
            resp = await _call(request, "GET", f"/api/orders/{quote(order_id, safe='')}")
            if resp.status_code == 404:
                error, status = "There is no such order in your account.", 404
            else:
                resp.raise_for_status()
                order = resp.json()
        except (ApiDown, httpx.HTTPError):
            error = "This order cannot be loaded right now; try again in a moment."
    lines = [order_line(item) for item in order["items"]] if order else []
    return templates.TemplateResponse(request, "order.html", {"identity": identity, "order": order, "lines": lines,
                                                              "error": error, "order_id": order_id},
                                      status_code=status, headers={"Cache-Control": "no-store"})


def ticket_view(ticket: dict[str, Any]) -> dict[str, Any]:
    festival = ticket.get("festival") or None
    when = where = ""
    if festival:
        when = festival_dates(festival.get("starts_on") or "", festival.get("ends_on") or "")
        venue, address = festival.get("venue") or "", festival.get("address") or ""
        where = address if address.startswith(venue) else ", ".join(p for p in (venue, address) if p)
    return {**ticket, "festival": festival, "when": when, "where": where}


def order_line(item: dict[str, Any]) -> dict[str, Any]:
    unit = item.get("unit_price_cents")
    return {"name": item.get("name") or item["ticket_id"], "quantity": item["quantity"],
            "price": cents_to_str(unit), "subtotal": cents_to_str(None if unit is None else unit * item["quantity"])}


# --- tickets (the ticketing service's API) ---

async def _tickets_api(request: Request, method: str, path: str, json: dict[str, Any] | None = None) -> httpx.Response:
    try:
        return await request.app.state.tickets_api.request(method, path, json=json, headers=_headers(request))
    except httpx.HTTPError as exc:
        raise ApiDown(str(exc)) from exc


async def _ticket_page(request: Request, code: str, message: str | None = None,
                       holder_error: str | None = None) -> HTMLResponse:
    identity = request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))
    ticket, error, status = None, None, 200
    if identity:
        try:
            resp = await _tickets_api(request, "GET", f"/api/tickets/{quote(code, safe='')}")
            if resp.status_code == 404:
                error, status = "There is no such ticket in your account.", 404
            else:
                resp.raise_for_status()
                ticket = ticket_view(resp.json())
        except (ApiDown, httpx.HTTPError):
            error = "This ticket cannot be loaded right now; try again in a moment."
    return templates.TemplateResponse(request, "ticket.html", {
        "identity": identity, "ticket": ticket, "error": error, "code": code, "message": message,
        "holder_error": holder_error}, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/cart/fragments/v1/ticket/{code}", response_class=HTMLResponse)
async def ticket_detail(request: Request, code: str):
    """One ticket, its QR code large enough to scan from a phone, the festival, and its holder's name."""
    return await _ticket_page(request, code)


@router.post("/cart/tickets/{code}/holder", response_class=HTMLResponse)
async def set_holder(request: Request, code: str, holder: str = Form("")):
    try:
        resp = await _tickets_api(request, "PUT", f"/api/tickets/{quote(code, safe='')}/holder",
                                  json={"holder": holder})
    except ApiDown:
        return await _ticket_page(request, code, holder_error="The name cannot be saved right now; try again.")
    if resp.status_code != 200:
        return await _ticket_page(request, code, holder_error=_detail(resp))
    return await _ticket_page(request, code, message="Saved.")
