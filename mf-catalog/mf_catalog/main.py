"""Fragments (see CONTRACT.md): /catalog/fragments/v1/ticket-list. Static: /catalog/static/."""
from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sse_starlette.sse import EventSourceResponse

from festflow_contracts.channels import CATALOG_EVENTS_TOPIC, ORDER_EVENTS_TOPIC
from festflow_contracts.tokens import COOKIE_NAME, TokenVerifier
from festflow_runtime.event_stream import Subscription
from festflow_runtime.fanout import Fanout
from festflow_runtime.revocations import subscribe_revocations
from festflow_runtime.same_origin import SameOriginMiddleware
from festflow_runtime.startup_heap import freeze_startup_heap
from mf_catalog.festival_view import festival_view, utc
from mf_catalog.settings import Settings
from mf_catalog.stock_feed import stock_update

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["utc"] = utc


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings: Settings = app.state.settings
    app.state.verifier = TokenVerifier(settings.public_key_pem())
    revocations = subscribe_revocations(settings.kafka_bootstrap_servers, app.state.verifier)
    revocations.start()  # logged-out tokens are refused here too
    app.state.api = httpx.AsyncClient(base_url=settings.order_api_url, timeout=3.0,
                                      transport=app.state.order_api_transport)
    app.state.feed = feed = Fanout()

    async def on_event(event: dict) -> None:
        update = stock_update(event)
        if update:
            feed.publish(update)

    app.state.events = Subscription(settings.kafka_bootstrap_servers,
                                    (ORDER_EVENTS_TOPIC, CATALOG_EVENTS_TOPIC), on_event,
                                    group_id=None, from_beginning=False)
    app.state.events.start()
    freeze_startup_heap()  # no full garbage collection walks what was made at start
    try:
        yield
    finally:
        await revocations.stop()
        await app.state.events.stop()
        await app.state.api.aclose()


router = APIRouter()


def create_app(settings: Settings | None = None, *,
               order_api_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The app (run by `uvicorn --factory mf_catalog.main:create_app`); tests pass a fake order API transport."""
    app = FastAPI(title="FestFlow catalog micro-frontend", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # internal: no documents of its routes for strangers
    app.state.settings = settings or Settings()
    app.state.order_api_transport = order_api_transport
    app.add_middleware(SameOriginMiddleware, streams=("/catalog/sse/",))
    app.mount("/catalog/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
    return app


@router.get("/healthz")
async def healthz(request: Request):
    ok = request.app.state.events.ready
    return JSONResponse({"status": "ok" if ok else "degraded", "checks": {"kafka": "ok" if ok else "down"}},
                        status_code=200 if ok else 503)


@router.get("/catalog/sse/stock")
async def stock_stream(request: Request):
    """Server-sent events `stock`: {"tickets": [{"ticket_id", "stock"}]} whenever stock changes."""
    return EventSourceResponse(request.app.state.feed.sse_events("stock"), ping=15)


@router.get("/catalog/fragments/v1/festival", response_class=HTMLResponse)
async def festival(request: Request):
    """The festival's banner, name, dates, place and description (empty while they cannot be loaded)."""
    details = None
    try:
        resp = await request.app.state.api.get("/api/festival")
        resp.raise_for_status()
        details = festival_view(resp.json())
    except httpx.HTTPError:
        pass
    return templates.TemplateResponse(request, "festival.html", {"festival": details},
                                      headers={"Cache-Control": "no-store"})


@router.get("/catalog/fragments/v1/ticket-list", response_class=HTMLResponse)
async def ticket_list(request: Request):
    identity = request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))
    error = None
    tickets: list[dict] = []
    try:
        resp = await request.app.state.api.get("/api/tickets")
        resp.raise_for_status()
        tickets = resp.json()
    except httpx.HTTPError:
        error = "Tickets cannot be loaded right now. This list retries by itself."
    return templates.TemplateResponse(request, "ticket_list.html",
                                      {"tickets": tickets, "error": error, "identity": identity},
                                      headers={"Cache-Control": "no-store"})
