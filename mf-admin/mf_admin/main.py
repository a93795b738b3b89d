"""Fragments (see CONTRACT.md): /admin/fragments/v1/nav, /admin/fragments/v1/dashboard,
/admin/fragments/v1/ticket-editor. Only the admin role, read from the verified token, gets admin content."""
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


app = FastAPI(title="FestFlow admin micro-frontend", lifespan=lifespan, docs_url=None, redoc_url=None)
app.mount("/admin/static", StaticFiles(directory=HERE / "static"), name="static")


def _identity(request: Request):
    return request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))


def _refuse(request: Request, identity) -> HTMLResponse | None:
    """The "not allowed" fragment for clients, a login prompt for anonymous visitors, None for admins."""
    if identity is None:
        return templates.TemplateResponse(request, "refused.html", {"reason": "login"}, status_code=401)
    if not identity.is_admin:
        return templates.TemplateResponse(request, "refused.html", {"reason": "role"}, status_code=403)
    return None


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


@app.get("/admin/fragments/v1/nav", response_class=HTMLResponse)
async def nav(request: Request):
    return templates.TemplateResponse(request, "nav.html", {"identity": _identity(request)},
                                      headers={"Cache-Control": "no-store"})


@app.get("/admin/fragments/v1/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request):
    identity = _identity(request)
    refused = _refuse(request, identity)
    if refused:
        return refused
    tickets, error = [], None
    try:
        resp = await request.app.state.api.get("/api/tickets")
        resp.raise_for_status()
        tickets = resp.json()
    except httpx.HTTPError:
        error = "Ticket data is unavailable right now."
    return templates.TemplateResponse(request, "dashboard.html", {"tickets": tickets, "error": error},
                                      headers={"Cache-Control": "no-store"})


@app.get("/admin/fragments/v1/ticket-editor", response_class=HTMLResponse)
async def ticket_editor(request: Request):
    refused = _refuse(request, _identity(request))
    if refused:
        return refused
    return await dashboard(request)
