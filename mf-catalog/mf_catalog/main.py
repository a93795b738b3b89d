"""Fragments (see CONTRACT.md): /catalog/fragments/v1/ticket-list. Static: /catalog/static/."""
from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from festflow_contracts.tokens import COOKIE_NAME, TokenVerifier

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.verifier = TokenVerifier.from_env()
    app.state.api = httpx.AsyncClient(base_url=os.environ.get("ORDER_API_URL", "http://127.0.0.1:8000"),
                                      timeout=3.0)
    try:
        yield
    finally:
        await app.state.api.aclose()


app = FastAPI(title="FestFlow catalog micro-frontend", lifespan=lifespan, docs_url=None, redoc_url=None)
app.mount("/catalog/static", StaticFiles(directory=HERE / "static"), name="static")


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


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
