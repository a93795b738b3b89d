"""Ticketing service: issues tickets from the sold events on Kafka, serves them and checks them in."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from festflow_contracts.channels import ORDER_EVENTS_TOPIC, TICKET_EVENTS_TOPIC
from festflow_contracts.messages import OrderCancelled
from festflow_contracts.tokens import TokenVerifier
from festflow_runtime import database
from festflow_runtime.activity import ActivityLog
from festflow_runtime.event_stream import Subscription, cancel_and_wait
from festflow_runtime.http_errors import install_error_handlers
from festflow_runtime.log_feed import LogFeed
from festflow_runtime.outbox import KafkaSender, OutboxRelay
from festflow_runtime.revocations import subscribe_revocations
from festflow_runtime.same_origin import SameOriginMiddleware
from festflow_runtime.startup_heap import freeze_startup_heap
from ticketing_service import db
from ticketing_service.api import router
from ticketing_service.issuing import issue_in_order
from ticketing_service.settings import Settings
from ticketing_service.signing import TicketSigner
from ticketing_service.ticket_changes import void_order

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("ticketing_service")


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings: Settings = app.state.settings
    state = app.state
    log_feed = LogFeed("ticketing-service", settings.kafka_bootstrap_servers, ("ticketing_service", "uvicorn.error"))
    log_feed.start()
    state.engine = engine = db.make_engine(settings.database_url)
    await db.create_schema(engine)
    state.signer = TicketSigner(settings.signing_key_pem())
    state.verifier = TokenVerifier(settings.public_key_pem())
    revocations = subscribe_revocations(settings.kafka_bootstrap_servers, state.verifier)
    revocations.start()
    sender = KafkaSender(settings.kafka_bootstrap_servers, (TICKET_EVENTS_TOPIC,))
    state.relay = OutboxRelay(engine, db.event_outbox, sender, logging.getLogger("ticketing_service.events"))
    relay_task = asyncio.create_task(state.relay.run(), name="ticket-events-relay")

    issued = ActivityLog(log, "issued")  # one line per period: a drop sells hundreds of orders a second

    async def cancel(cancelled: OrderCancelled) -> None:
        if await void_order(engine, cancelled.order_id):
            state.relay.notify()
            log.info("tickets of cancelled order %s are void", cancelled.order_id[:8])

    async def on_order_events(batch: list[dict[str, Any]]) -> None:
        fresh = await issue_in_order(engine, batch, state.signer, settings.festival_id, cancel)
        if fresh:
            state.relay.notify()
            issued.count("orders", len(fresh))
            issued.count("tickets", sum(i.quantity for sold in fresh for i in sold.items))

    async def on_order_event(event: dict[str, Any]) -> None:
        await on_order_events([event])

    state.events = Subscription(settings.kafka_bootstrap_servers, (ORDER_EVENTS_TOPIC,), on_order_event,
                                batch_handler=on_order_events, group_id="ticketing-service", from_beginning=True)
    state.events.start()
    freeze_startup_heap()  # no full garbage collection walks what was made at start
    try:
        yield
    finally:
        await state.events.stop()
        await cancel_and_wait(relay_task)
        await sender.close()
        await revocations.stop()
        await engine.dispose()
        await log_feed.stop()


async def healthz(request: Request) -> JSONResponse:
    state = request.app.state
    checks = {"database": await database.health(state.engine)}
    checks["kafka"] = "ok" if state.events.ready else "down"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status_code=200 if healthy else 503)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ticketing service (run by `uvicorn --factory ticketing_service.main:create_app`)."""
    app = FastAPI(title="FestFlow ticketing service", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # internal: no documents of its routes for strangers
    app.state.settings = settings or Settings()
    app.add_middleware(SameOriginMiddleware)
    install_error_handlers(app)
    app.include_router(router)
    app.add_api_route("/healthz", healthz, methods=["GET"])
    return app
