"""The organiser's pages under /admin/, each in the shell's frame with this app's fragment composed in.
Nobody logged in is sent to log in first; a logged-in buyer sees the fragments' "not allowed". An order id
goes into an include path, so only an id's shape is let through."""
from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from festflow_runtime.fragment_app import not_found_page, page
from festflow_runtime.web_auth import Visitor

router = APIRouter()
ORDER_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# name -> (path, title, the fragment and its stub text); each fragment is listed in CONTRACT.md
PAGES = {
    "dashboard": ("/admin/", "Admin dashboard", "/admin/fragments/v1/dashboard"),
    "tickets": ("/admin/tickets", "Tickets", "/admin/fragments/v1/ticket-editor"),
    "festival": ("/admin/festival", "Festival", "/admin/fragments/v1/festival-editor"),
    "security": ("/admin/security", "Login locks", "/admin/fragments/v1/login-locks"),
    "payments": ("/admin/payments", "Payments", "/admin/fragments/v1/payments"),
    "waiting_room": ("/admin/waiting-room", "Waiting room", "/admin/fragments/v1/waiting-room"),
}


def _admin_page(request: Request, visitor: Visitor, name: str, title: str, fragment: str) -> Response:
    if visitor is None:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return page(request, title, name, [(fragment, f"The {title.lower()} page is unavailable right now.")])


def _route(name: str) -> None:
    path, title, fragment = PAGES[name]

    async def show(request: Request, visitor: Visitor) -> Response:
        return _admin_page(request, visitor, name, title, fragment)
    show.__name__ = f"{name}_page"
    router.add_api_route(path, show, methods=["GET"], response_class=HTMLResponse)


for _name in PAGES:
    _route(_name)


@router.get("/admin/orders", response_class=HTMLResponse)
async def orders(request: Request, visitor: Visitor, q: str = ""):
    """The organiser's orders; the search goes into the include path URL-encoded."""
    return _admin_page(request, visitor, "orders", "Orders", f"/admin/fragments/v1/orders?{urlencode({'q': q[:200]})}")


@router.get("/admin/orders/{order_id}", response_class=HTMLResponse)
async def order(request: Request, visitor: Visitor, order_id: str):
    if not ORDER_ID.fullmatch(order_id):
        return not_found_page(request)
    return _admin_page(request, visitor, "order", f"Order {order_id[:8]}", f"/admin/fragments/v1/order/{order_id}")
