"""What every mf-admin feature's routes share: who is asking, the refusal for anyone but an organiser,
calls to the order API with the organiser's token, readable reasons from its errors, and the templates."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from festflow_contracts.tokens import COOKIE_NAME

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def who_is_asking(request: Request):
    return request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))


def refusal(request: Request) -> HTMLResponse | None:
    """The "not allowed" fragment for clients, a login prompt for anonymous visitors, None for admins."""
    identity = who_is_asking(request)
    if identity is None:
        return templates.TemplateResponse(request, "refused.html", {"reason": "login"}, status_code=401)
    if not identity.is_admin:
        return templates.TemplateResponse(request, "refused.html", {"reason": "role"}, status_code=403)
    return None


def auth_headers(request: Request) -> dict[str, str]:
    return {"Authorization": f"Bearer {request.cookies.get(COOKIE_NAME, '')}"}


async def call_api(request: Request, method: str, path: str, json: dict | None = None) -> tuple[int, Any]:
    try:
        resp = await request.app.state.api.request(method, path, json=json, headers=auth_headers(request))
    except httpx.HTTPError:
        return 503, {"detail": "the order service cannot be reached right now"}
    try:
        return resp.status_code, resp.json()
    except ValueError:
        return resp.status_code, {"detail": f"error {resp.status_code}"}


def reasons(body: Any) -> list[str]:
    """Readable reasons from an API error body: {"detail": "…"} or a validation list."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        out = []
        for item in detail:
            msg = str(item.get("msg", item)).removeprefix("Value error, ")
            field = item.get("loc", [""])[-1]
            out.append(msg if str(field) in msg else f"{field}: {msg}")
        return out
    return [str(detail or "something went wrong")]


def render(request: Request, template: str, context: dict[str, Any], **kwargs) -> HTMLResponse:
    return templates.TemplateResponse(request, template, context, headers={"Cache-Control": "no-store"}, **kwargs)
