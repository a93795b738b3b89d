"""What every mf-admin feature shares: calls to the order and ticketing APIs with the organiser's own
token (the APIs check the role again), answered as `ApiAnswer`s."""
from __future__ import annotations

from typing import Any

from fastapi import Request

from festflow_runtime.api_answers import ApiAnswer, call_api
from festflow_runtime.fragment_app import parts
from festflow_runtime.web_auth import bearer


async def order_api(request: Request, method: str, path: str, json: Any = None, *,
                    params: dict[str, Any] | None = None, content: bytes | None = None,
                    headers: dict[str, str] | None = None) -> ApiAnswer:
    return await call_api(parts(request).api("orders"), method, path, json=json, params=params, content=content,
                          headers={**bearer(request), **(headers or {})})


async def payment_api(request: Request, method: str, path: str, files: dict[str, Any] | None = None) -> ApiAnswer:
    return await call_api(parts(request).api("payments"), method, path, headers=bearer(request), files=files,
                          unreachable="the payment service cannot be reached right now")


async def ticketing_api(request: Request, method: str, path: str) -> ApiAnswer:
    return await call_api(parts(request).api("tickets"), method, path, headers=bearer(request),
                          unreachable="the ticketing service cannot be reached right now")


async def waiting_room_api(request: Request, method: str, path: str, json: Any = None) -> ApiAnswer:
    return await call_api(parts(request).api("waiting"), method, path, json=json, headers=bearer(request),
                          unreachable="the waiting room cannot be reached right now")
