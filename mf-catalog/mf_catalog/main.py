"""The shop (see CONTRACT.md). Page: /catalog/ (the gateway serves it as /). Fragments:
/catalog/fragments/v1/festival, /catalog/fragments/v1/ticket-list. Live stock: /catalog/sse/stock.
Static: /catalog/static/."""
from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from festflow_contracts.channels import CATALOG_EVENTS_TOPIC, ORDER_EVENTS_TOPIC
from festflow_runtime.api_answers import call_api
from festflow_runtime.fragment_app import LiveView, Subscribe, create_fragment_app, page, parts, render
from festflow_runtime.web_auth import Visitor
from mf_catalog.festival_view import festival_view
from mf_catalog.settings import Settings
from mf_catalog.stock_feed import stock_update

router = APIRouter()
# Server-sent events `stock`: {"tickets": [{"ticket_id", "stock"}]} whenever stock changes
STOCK = LiveView("/catalog/sse/stock", "stock", (ORDER_EVENTS_TOPIC, CATALOG_EVENTS_TOPIC), stock_update)


def create_app(settings: Settings | None = None, *, order_api_transport: httpx.AsyncBaseTransport | None = None,
               subscribe: Subscribe | None = None) -> FastAPI:
    """The app (run by `uvicorn --factory mf_catalog.main:create_app`); tests pass a fake order API transport
    and no Kafka."""
    settings = settings or Settings()
    return create_fragment_app(title="FestFlow catalog micro-frontend", settings=settings,
                               folder=Path(__file__).parent, prefix="/catalog", routers=[router],
                               apis={"orders": (settings.order_api_url, 3.0)}, live=[STOCK],
                               transport=order_api_transport, subscribe=subscribe, refused_template=None)


# the shop page's fragments: (path, stub text), each listed in its provider's CONTRACT.md
SHOP = [("/catalog/fragments/v1/festival", ""),
        ("/catalog/fragments/v1/ticket-list", "The ticket list is unavailable right now."),
        ("/cart/fragments/v1/cart", "The cart is unavailable right now.")]


@router.get("/catalog/", response_class=HTMLResponse)
async def shop(request: Request):
    """The shop: the festival, its tickets and the buyer's cart (the gateway serves it as /)."""
    return page(request, "Tickets", "home", SHOP)


@router.get("/catalog/fragments/v1/festival", response_class=HTMLResponse)
async def festival(request: Request):
    """The festival's banner, name, dates, place and description (empty while they cannot be loaded)."""
    answer = await call_api(parts(request).api("orders"), "GET", "/api/festival")
    return render(request, "festival.html", {"festival": festival_view(answer.body) if answer.ok else None})


@router.get("/catalog/fragments/v1/ticket-list", response_class=HTMLResponse)
async def ticket_list(request: Request, identity: Visitor):
    answer = await call_api(parts(request).api("orders"), "GET", "/api/tickets")
    error = None if answer.ok else "Tickets cannot be loaded right now. This list retries by itself."
    return render(request, "ticket_list.html", {"tickets": answer.body if answer.ok else [], "error": error,
                                                "identity": identity})
