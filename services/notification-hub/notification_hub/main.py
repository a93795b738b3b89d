"""WebSocket endpoints /ws/notifications (fed by a Kafka consumer of order events) and /ws/logs. Authenticated by the
festflow_token cookie or an Authorization header, never a token in the URL (access logs would keep it)."""
from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from festflow_contracts.channels import ORDER_EVENTS_TOPIC, SYSTEM_LOGS_TOPIC
from festflow_contracts.tokens import COOKIE_NAME, InvalidToken, TokenVerifier, bearer_token
from festflow_runtime.event_stream import Subscription
from festflow_runtime.log_feed import LogFeed
from festflow_runtime.revocations import subscribe_revocations
from festflow_runtime.same_origin import SameOriginMiddleware
from festflow_runtime.startup_heap import lifespan_running
from notification_hub.connections import Connections
from notification_hub.history import NotificationHistory
from notification_hub.log_stream import LogStream
from notification_hub.notifications import notification_for
from notification_hub.settings import Settings

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("notification_hub")


@dataclass
class Services:
    """What the hub is made of, built once from its settings (no I/O); `running` feeds it from Kafka."""
    settings: Settings
    verifier: TokenVerifier
    connections: Connections = field(default_factory=Connections)  # each buyer's open pages
    history: NotificationHistory = field(default_factory=NotificationHistory)  # each buyer's recent notifications
    logs: LogStream = field(default_factory=LogStream)  # the services' recent log records, and who watches them
    events: Subscription | None = None  # the order events, while running
    log_events: Subscription | None = None  # the log records, while running

    async def push(self, event: dict) -> None:
        """An order event to its buyer's open pages, once (an event delivered twice is pushed once)."""
        found = notification_for(event)
        if found and self.history.add(*found):
            username, note = found
            await self.connections.send(username, note)


def build(settings: Settings) -> Services:
    return Services(settings, TokenVerifier(settings.public_key_pem()))


@asynccontextmanager
async def running(services: Services) -> AsyncIterator[None]:
    bootstrap = services.settings.kafka_bootstrap_servers
    revocations = subscribe_revocations(bootstrap, services.verifier)
    revocations.start()  # logged-out tokens are refused here too
    log_feed = LogFeed("notification-hub", bootstrap, ("notification_hub", "uvicorn.error"))
    log_feed.start()
    # from the start of the topic: a hub that was down still learns what happened meanwhile
    services.events = Subscription(bootstrap, (ORDER_EVENTS_TOPIC,), services.push, group_id=None,
                                   from_beginning=True)
    # every instance reads the last hour of logs (the topic's retention) so a reload shows history
    services.log_events = Subscription(bootstrap, (SYSTEM_LOGS_TOPIC,), services.logs.on_event, group_id=None,
                                       from_beginning=True)
    services.events.start()
    services.log_events.start()
    try:
        yield
    finally:
        await revocations.stop()
        await services.events.stop()
        await services.log_events.stop()
        await log_feed.stop()


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The hub (run by `uvicorn --factory notification_hub.main:create_app`); tests hand in Services."""
    app = FastAPI(title="FestFlow notification hub", lifespan=lifespan_running(running), docs_url=None, redoc_url=None,
                  openapi_url=None)  # internal: no documents of its routes for strangers
    app.state.services = services or build(settings or Settings())
    app.add_middleware(SameOriginMiddleware)  # a page of another origin cannot open a socket
    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.add_api_websocket_route("/ws/logs", logs)
    app.add_api_websocket_route("/ws/notifications", notifications)
    return app


def _services(app: Any) -> Services:
    return app.state.services


async def healthz(request: Request):
    hub = _services(request.app)
    checks = {"kafka": "ok" if hub.events and hub.events.ready else "down",
              "log feed": "ok" if hub.log_events and hub.log_events.ready else "down"}
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "degraded", "checks": checks,
                         "connections": hub.connections.count()}, status_code=200 if ok else 503)


async def _authenticate(ws: WebSocket, admin_only: bool = False):
    """The caller's identity, or None after closing with 4401 (no valid token) or 4403 (not an admin).
    The socket is accepted first so the page can tell these codes apart from a network failure."""
    token = ws.cookies.get(COOKIE_NAME) or bearer_token(ws.headers.get("authorization"))
    await ws.accept()
    try:
        identity = _services(ws.app).verifier.verify(token)
    except InvalidToken:
        await ws.close(code=4401, reason="authentication required")
        return None
    if admin_only and not identity.is_admin:
        await ws.close(code=4403, reason="admin role required")
        return None
    return identity


async def _hold_open(ws: WebSocket, username: str | None = None) -> None:
    """Keeps the socket open; a page of `username` may send {"kind": "resume", "last_event_id": ...,
    "last_event_time": ...} and gets the notifications it may have missed (it drops those it has)."""
    try:
        while True:
            text = await ws.receive_text()
            if username is None:
                continue
            try:
                message = json.loads(text)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("kind") == "resume":
                last, when = message.get("last_event_id"), message.get("last_event_time")
                for note in _services(ws.app).history.since(username, last if isinstance(last, str) else None,
                                                        when if isinstance(when, str) else None):
                    await ws.send_json(note)
    except WebSocketDisconnect:
        pass


async def logs(ws: WebSocket):
    """Admins only: the recent log records of every service, then each new one as it happens."""
    if await _authenticate(ws, admin_only=True) is None:
        return
    stream = _services(ws.app).logs
    await ws.send_json({"kind": "history", "records": stream.history()})
    stream.watchers.add(ws)
    try:
        await _hold_open(ws)
    finally:
        stream.watchers.discard(ws)


async def notifications(ws: WebSocket):
    identity = await _authenticate(ws)
    if identity is None:
        return
    connections = _services(ws.app).connections
    connections.add(identity.username, ws)
    await ws.send_json({"kind": "hello", "username": identity.username})
    try:
        await _hold_open(ws, identity.username)
    finally:
        connections.remove(identity.username, ws)
