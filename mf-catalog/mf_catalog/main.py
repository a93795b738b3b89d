"""Fragments (see CONTRACT.md): /catalog/fragments/v1/ticket-list. Static: /catalog/static/."""
from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
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
from mf_catalog.stock_feed import stock_update

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.verifier = TokenVerifier.from_env()
    revocations = subscribe_revocations(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"), app.state.verifier)
    revocations.start()  # logged-out tokens are refused here too
    app.state.api = httpx.AsyncClient(base_url=os.environ.get("ORDER_API_URL", "http://127.0.0.1:8000"),
                                      timeout=3.0)
    app.state.feed = feed = Fanout()

    async def on_event(event: dict) -> None:
        update = stock_update(event)
        if update:
            feed.publish(update)

    app.state.events = Subscription(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                                    (ORDER_EVENTS_TOPIC, CATALOG_EVENTS_TOPIC), on_event,
                                    group_id=None, from_beginning=False)
    app.state.events.start()
    try:
        yield
    finally:
        await revocations.stop()
        await app.state.events.stop()
        await app.state.api.aclose()


app = FastAPI(title="FestFlow catalog micro-frontend", lifespan=lifespan, docs_url=None, redoc_url=None)
app.add_middleware(SameOriginMiddleware, streams=("/catalog/sse/",))
app.mount("/catalog/static", StaticFiles(directory=HERE / "static"), name="static")


@app.get("/healthz")
async def healthz():
    ok = app.state.events.ready
    return JSONResponse({"status": "ok" if ok else "degraded", "checks": {"kafka": "ok" if ok else "down"}},
                        status_code=200 if ok else 503)


@app.get("/catalog/sse/stock")
async def stock_stream(request: Request):
    """Server-sent events `stock`: {"tickets": [{"ticket_id", "stock"}]} whenever stock changes."""
    return EventSourceResponse(request.app.state.feed.sse_events("stock"), ping=15)


@app.get("/catalog/fragments/v1/ticket-list", response_class=HTMLResponse)
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
