"""Fragments (see CONTRACT.md): /cart/fragments/v1/cart, /cart/fragments/v1/my-orders.
HTMX actions: POST /cart/items, /cart/items/{id}/quantity, /cart/items/{id}/remove, /cart/checkout."""
from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from festflow_contracts.money import cents_to_str
from festflow_contracts.tokens import COOKIE_NAME, TokenVerifier
from mf_cart.cart import COOKIE, Cart

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
LAST_ORDER_COOKIE = "festflow_last_order"
COOKIE_AGE = 7 * 24 * 3600


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.verifier = TokenVerifier.from_env()
    app.state.api = httpx.AsyncClient(base_url=os.environ.get("ORDER_API_URL", "http://127.0.0.1:8000"),
                                      timeout=8.0)
    try:
        yield
    finally:
        await app.state.api.aclose()


app = FastAPI(title="FestFlow cart micro-frontend", lifespan=lifespan, docs_url=None, redoc_url=None)
app.mount("/cart/static", StaticFiles(directory=HERE / "static"), name="static")


def _auth(request: Request) -> dict[str, str]:
    token = request.cookies.get(COOKIE_NAME)
    return {"Authorization": f"Bearer {token}"} if token else {}


async def _tickets(request: Request) -> dict[str, dict] | None:
    try:
        resp = await request.app.state.api.get("/api/tickets")
        resp.raise_for_status()
    except httpx.HTTPError:
        return None
    return {t["id"]: t for t in resp.json()}


async def _render_cart(request: Request, cart: Cart, message: str | None = None, error: str | None = None,
                       last_order_id: str | None = None, trigger: str | None = None,
                       catalog: dict[str, dict] | None = None) -> HTMLResponse:
    """The cart fragment; `catalog` when the caller has fetched the tickets already."""
    identity = request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))
    catalog = catalog if catalog is not None else await _tickets(request)
    lines, total = [], 0
    for ticket_id, qty in cart.items.items():
        ticket = (catalog or {}).get(ticket_id)
        if ticket:
            subtotal = ticket["price_cents"] * qty
            total += subtotal
            lines.append({"id": ticket_id, "name": ticket["name"], "price": ticket["price"], "quantity": qty,
                          "subtotal": cents_to_str(subtotal), "on_sale": True})
        else:
            lines.append({"id": ticket_id, "name": ticket_id, "price": None, "quantity": qty,
                          "subtotal": None, "on_sale": catalog is None})
    last_order = None
    last_order_id = last_order_id or request.cookies.get(LAST_ORDER_COOKIE)
    if identity and last_order_id:
        try:
            resp = await request.app.state.api.get(f"/api/orders/{last_order_id}", headers=_auth(request))
            if resp.status_code == 200:
                last_order = resp.json()
        except httpx.HTTPError:
            pass
    response = templates.TemplateResponse(request, "cart.html", {
        "identity": identity, "lines": lines, "total": cents_to_str(total),
        "message": message, "error": error, "catalog_down": catalog is None, "last_order": last_order,
    }, headers={"Cache-Control": "no-store"})
    response.set_cookie(COOKIE, cart.dump(), max_age=COOKIE_AGE, httponly=True, samesite="lax", path="/")
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


@app.get("/cart/fragments/v1/cart", response_class=HTMLResponse)
async def cart_fragment(request: Request):
    return await _render_cart(request, Cart.parse(request.cookies.get(COOKIE)))


def _quantity(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw.isdigit() else None


@app.post("/cart/items", response_class=HTMLResponse)
async def add_item(request: Request, ticket_id: str = Form(""), quantity: str = Form("1")):
    cart = Cart.parse(request.cookies.get(COOKIE))
    qty = _quantity(quantity)
    catalog = await _tickets(request)
    if qty is None:
        return await _render_cart(request, cart, error="Quantity must be a whole number.", catalog=catalog)
    if catalog is not None and ticket_id not in catalog:
        return await _render_cart(request, cart, error="That ticket is not on sale.", catalog=catalog)
    error = cart.add(ticket_id, qty)
    if error:
        return await _render_cart(request, cart, error=error, catalog=catalog)
    name = catalog[ticket_id]["name"] if catalog else ticket_id
    return await _render_cart(request, cart, message=f"Added {qty} × {name}.", trigger="cart:updated",
                              catalog=catalog)


@app.post("/cart/items/{ticket_id}/quantity", response_class=HTMLResponse)
async def set_quantity(request: Request, ticket_id: str, quantity: str = Form("")):
    cart = Cart.parse(request.cookies.get(COOKIE))
    qty = _quantity(quantity)
    error = "Quantity must be a whole number." if qty is None else cart.set_quantity(ticket_id, qty)
    return await _render_cart(request, cart, error=error, trigger=None if error else "cart:updated")


@app.post("/cart/items/{ticket_id}/remove", response_class=HTMLResponse)
async def remove_item(request: Request, ticket_id: str):
    cart = Cart.parse(request.cookies.get(COOKIE))
    cart.remove(ticket_id)
    return await _render_cart(request, cart, trigger="cart:updated")


@app.post("/cart/checkout", response_class=HTMLResponse)
async def checkout(request: Request):
    cart = Cart.parse(request.cookies.get(COOKIE))
    if request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME)) is None:
        return await _render_cart(request, cart, error="Please log in to check out.")
    if not cart.items:
        return await _render_cart(request, cart, error="Your cart is empty.")
    body = {"items": [{"ticket_id": t, "quantity": q} for t, q in cart.items.items()]}
    try:
        resp = await request.app.state.api.post(
            "/api/orders", json=body, headers={**_auth(request), "Idempotency-Key": cart.key})
    except httpx.HTTPError:
        return await _render_cart(request, cart, error="We could not reach the order service. "
                                                        "Your cart is kept; please try again.")
    if resp.status_code == 202:
        order = resp.json()
        cart.renew()
        response = await _render_cart(
            request, cart, message=f"Order {order['order_id'][:8]} placed: waiting for confirmation.",
            last_order_id=order["order_id"], trigger="order:placed")
        response.set_cookie(LAST_ORDER_COOKIE, order["order_id"], max_age=COOKIE_AGE, httponly=True,
                            samesite="lax", path="/")
        return response
    if resp.status_code == 401:
        return await _render_cart(request, cart, error="Your session has expired; please log in again.")
    detail = _detail(resp)
    return await _render_cart(request, cart, error=f"Checkout failed: {detail}")


def _detail(resp: httpx.Response) -> str:
    try:
        detail = resp.json().get("detail")
    except ValueError:
        return f"error {resp.status_code}"
    if isinstance(detail, list):  # a validation error list
        return "; ".join(str(item.get("msg", item)) for item in detail)
    return str(detail or f"error {resp.status_code}")


@app.get("/cart/fragments/v1/my-orders", response_class=HTMLResponse)
async def my_orders(request: Request):
    identity = request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))
    orders, error = [], None
    if identity:
        try:
            resp = await request.app.state.api.get("/api/orders", headers=_auth(request))
            resp.raise_for_status()
            orders = resp.json()
        except httpx.HTTPError:
            error = "Your orders cannot be loaded right now."
    return templates.TemplateResponse(request, "my_orders.html",
                                      {"identity": identity, "orders": orders, "error": error},
                                      headers={"Cache-Control": "no-store"})
