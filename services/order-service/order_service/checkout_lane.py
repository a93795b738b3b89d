"""The checkout's own lane: `POST /api/orders` answered before FastAPI's request machinery.

In a drop nearly every request is a checkout. FastAPI's layers around the route (seven middleware
layers, routing, dependency solving, body handling, the response) cost 0.05-0.4 ms of a checkout's
1-1.7 ms in the order service (bench/hot_path_bench.py; a wall-clock profile under load had suggested
far more). The lane answers a well-formed checkout by an authenticated
caller with the same use case and the same response as the route (`checkout_http.checkout`; a test sends
both the same requests). Whatever it does not take on - another path, a cross-origin cookie request, a
missing or bad token, a missing key, another content type, a body that does not validate or is too big -
goes on to FastAPI unchanged (the body it read is replayed), so every refusal of a malformed request is
FastAPI's own. `FAST_CHECKOUT=false` turns the lane off.

In a drop more checkouts can come than the service can take. The gateway stamps when it sent each request
on (`X-Request-Start: t=<seconds>`); a checkout that waited longer than `CHECKOUT_SHED_SECONDS` (2 s)
before the lane saw it is answered 503 at once (retry in a moment with the same key; nothing was placed),
without reading its token or its body. The service then spends its time on checkouts it can still
answer in time, instead of queueing every request until each one is late (the gateway gives up after
15 s: a 503 that could not say whether the order was placed). The gateway and the service must share a
clock (one host, or NTP); 0 turns this off.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from starlette.requests import cookie_parser

from festflow_contracts import waiting_pass
from festflow_contracts.tokens import COOKIE_NAME, Identity, InvalidToken, bearer_token
from festflow_runtime.http_errors import lost_database, unreachable_response
from festflow_runtime.same_origin import forged_reason
from order_service.bootstrap import Services
from order_service.checkout_http import OrderIn, checkout, valid_key

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

PATH = "/api/orders"
PASS_HEADER = waiting_pass.HEADER.lower()
MAX_BODY = 64 * 1024  # a checkout is a few hundred bytes; a bigger body is FastAPI's to refuse


class CheckoutLane:
    def __init__(self, app: Any, services: Services, busy: Callable[[], Any]):
        """`app`: the FastAPI app; `services`: its parts (bootstrap.py); `busy`: the answer when the database
        queue is longer than the request's budget."""
        self.app = app
        self.services = services
        self.busy = busy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" \
                or not self.services.settings.fast_checkout:
            await self.app(scope, receive, send)
            return
        headers = first_headers(scope)
        if self.too_late(headers):
            await self.busy()(scope, receive, send)
            return
        body, complete = await read_body(receive, headers)
        taken = self.take(headers, body) if complete else None
        if taken is None:
            await self.app(scope, replay(body, complete, receive), send)
            return
        identity, key, order = taken
        try:
            response = await checkout(self.services, identity, key, order, headers.get(PASS_HEADER))
        except sa.exc.TimeoutError:
            response = self.busy()
        except (sa.exc.DBAPIError, ConnectionError) as exc:  # the route's answer (http_errors), here too
            if not lost_database(exc):
                raise
            response = unreachable_response()
        await response(scope, receive, send)

    def too_late(self, headers: dict[str, str]) -> bool:
        """Whether this checkout waited longer than it may before the lane saw it (see above)."""
        limit = self.services.settings.checkout_shed_seconds
        stamp = headers.get("x-request-start", "")
        if not limit or not stamp.startswith("t="):
            return False
        try:
            waited = time.time() - float(stamp[2:])
        except ValueError:
            return False
        return waited > limit

    def take(self, headers: dict[str, str], body: bytes) -> tuple[Identity, str, OrderIn] | None:
        """The caller, key and order of a checkout the lane answers, or None for FastAPI to handle."""
        if forged_reason("POST", headers) is not None:
            return None
        key = headers.get("idempotency-key")
        if not valid_key(key) or headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return None
        token = bearer_token(headers.get("authorization")) or cookie_parser(headers.get("cookie", "")).get(COOKIE_NAME)
        try:
            identity = self.services.verifier.verify(token)
            order = OrderIn.model_validate_json(body)
        except (InvalidToken, ValidationError):
            return None
        assert key is not None
        return identity, key, order


def first_headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name, the first of each name (as Starlette's `headers.get`)."""
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return headers


async def read_body(receive: Receive, headers: dict[str, str]) -> tuple[bytes, bool]:
    """The body, and whether it is all there: reading stops past MAX_BODY (or at once when the declared
    length is over it), leaving the rest for FastAPI."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return b"", False
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > MAX_BODY:
            return b"".join(chunks), False


def replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A `receive` that gives what was read first, then whatever is still to come."""
    sent = False

    async def again() -> MutableMapping[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return again
