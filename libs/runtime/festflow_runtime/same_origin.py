"""Refuses forged requests: a cookie-authenticated write (POST, PUT, PATCH, DELETE) or WebSocket from a
page of another origin. Browsers say where a request comes from (`Sec-Fetch-Site`, `Origin`); a page on
another port of the same host is `same-site` but not `same-origin`, and is refused too.

Requests without those headers come from scripts, not browsers, and carry no ambient cookie risk; a
request authenticated by an `Authorization` header (not by the cookie) is not forgeable either.
"""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def forged_reason(method: str, headers: dict[str, str], stream: bool = False) -> str | None:
    """Why this request must be refused, or None. `headers` with lower-case names; `stream` for a
    WebSocket or event stream, which is checked whatever its method."""
    if not stream and method not in UNSAFE:
        return None
    if not stream and "authorization" in headers:
        return None
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-origin request refused (Sec-Fetch-Site: {site})"
    origin = headers.get("origin")
    if origin is not None:
        host = headers.get("x-forwarded-host") or headers.get("host", "")
        if origin == "null" or origin.split("://", 1)[-1] != host:
            return f"cross-origin request refused (Origin: {origin})"
    return None


class SameOriginMiddleware:
    """`streams`: path prefixes of event streams (SSE), checked like a WebSocket even though they are GETs."""

    def __init__(self, app: ASGIApp, streams: tuple[str, ...] = ()):
        self.app = app
        self.streams = streams

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        kind = scope["type"]
        if kind in ("http", "websocket"):
            stream = kind == "websocket" or (bool(self.streams) and scope["path"].startswith(self.streams))
            reason = forged_reason(scope.get("method", "GET"), _headers(scope), stream=stream)
            if reason is not None:
                if kind == "websocket":
                    await receive()  # the connect message
                    await send({"type": "websocket.close", "code": 4403, "reason": reason[:120]})
                    return
                body = json.dumps({"detail": reason}).encode()
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
