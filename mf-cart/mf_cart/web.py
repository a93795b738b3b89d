"""What mf-cart's features share: the anonymous visitor's cart token (cookie `festflow_cart`) and calls to
the order, ticketing and payment APIs as the buyer (their token, and their cart token)."""
from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request

from festflow_contracts import waiting_pass
from festflow_runtime.api_answers import ApiAnswer, call_api
from festflow_runtime.fragment_app import parts
from festflow_runtime.web_auth import bearer

CART_COOKIE = "festflow_cart"  # an anonymous visitor's cart token (a UUID)


def cart_token(request: Request) -> str | None:
    try:
        return str(uuid.UUID(request.cookies.get(CART_COOKIE, "")))
    except ValueError:
        return None


def _headers(request: Request, token: str | None = None) -> dict[str, str]:
    headers = bearer(request)
    if token := token or cart_token(request):
        headers["X-Cart-Token"] = token
    if admitted := request.cookies.get(waiting_pass.COOKIE):  # the waiting room's pass, for the checkout
        headers[waiting_pass.HEADER] = admitted
    return headers


async def order_api(request: Request, method: str, path: str, *, token: str | None = None,
                    json: dict[str, Any] | None = None, params: dict[str, Any] | None = None) -> ApiAnswer:
    """A call to the order API as the buyer; `token`: a cart token to use instead of the cookie's."""
    return await call_api(parts(request).api("orders"), method, path, headers=_headers(request, token),
                          json=json, params=params)


async def ticketing_api(request: Request, method: str, path: str, json: dict[str, Any] | None = None) -> ApiAnswer:
    return await call_api(parts(request).api("tickets"), method, path, headers=_headers(request), json=json,
                          unreachable="the ticketing service cannot be reached right now")


async def payment_api(request: Request, method: str, path: str) -> ApiAnswer:
    return await call_api(parts(request).api("payments"), method, path, headers=_headers(request),
                          unreachable="card payments cannot be reached right now")


async def waiting_room_api(request: Request, method: str, path: str) -> ApiAnswer:
    return await call_api(parts(request).api("waiting"), method, path, headers=bearer(request),
                          unreachable="the waiting room cannot be reached right now; try again in a moment")
