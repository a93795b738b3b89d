"""WebSocket endpoint /ws/notifications (authenticated by the festflow_token cookie or ?token=),
fed by a Kafka consumer of order events."""
from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from festflow_contracts.channels import ORDER_EVENTS_TOPIC
from festflow_contracts.event_stream import Subscription
from festflow_contracts.tokens import COOKIE_NAME, InvalidToken, TokenVerifier
from notification_hub.connections import Connections
from notification_hub.notifications import notification_for

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("notification_hub")


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.verifier = TokenVerifier.from_env()
    app.state.connections = connections = Connections()
    async def push(event: dict) -> None:
        found = notification_for(event)
        if found:
            username, note = found
            delivered = await connections.send(username, note)
            log.info("%s for %s pushed to %d page(s)", note["kind"], username, delivered)

    app.state.events = Subscription(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                                    (ORDER_EVENTS_TOPIC,), push, group_id=None, from_beginning=False)
    app.state.events.start()
    try:
        yield
    finally:
        await app.state.events.stop()


app = FastAPI(title="FestFlow notification hub", lifespan=lifespan)


@app.get("/healthz")
async def healthz():
    ok = app.state.events.ready
    return JSONResponse({"status": "ok" if ok else "degraded", "checks": {"kafka": "ok" if ok else "down"},
                         "connections": app.state.connections.count()}, status_code=200 if ok else 503)


@app.websocket("/ws/notifications")
async def notifications(ws: WebSocket):
    token = ws.cookies.get(COOKIE_NAME) or ws.query_params.get("token")
    try:
        identity = ws.app.state.verifier.verify(token)
    except InvalidToken:
        # accept, then close with an application code the page can tell apart from a network failure
        await ws.accept()
        await ws.close(code=4401, reason="authentication required")
        return
    await ws.accept()
    connections = ws.app.state.connections
    connections.add(identity.username, ws)
    await ws.send_json({"kind": "hello", "username": identity.username})
    try:
        while True:
            await ws.receive_text()  # the client only keeps the socket open
    except WebSocketDisconnect:
        pass
    finally:
        connections.remove(identity.username, ws)
