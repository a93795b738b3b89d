"""Wires the ticketing service in one place: the database engine, the ticket signer, the token verifier,
the event outbox's relay, and what each order event sets off (tickets issued for a sale, voided for a
cancellation). `build` makes the Services (no I/O); `running` starts and stops the background work.
Routes get them through the typed dependency `api.AppServices`."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts.channels import ORDER_EVENTS_TOPIC, TICKET_EVENTS_TOPIC
from festflow_contracts.messages import OrderCancelled
from festflow_contracts.tokens import TokenVerifier
from festflow_runtime.activity import ActivityLog
from festflow_runtime.event_stream import Subscription, cancel_and_wait
from festflow_runtime.log_feed import LogFeed
from festflow_runtime.outbox import KafkaSender, OutboxRelay
from festflow_runtime.revocations import subscribe_revocations
from ticketing_service import db
from ticketing_service.issuing import issue_in_order
from ticketing_service.settings import Settings
from ticketing_service.signing import TicketSigner
from ticketing_service.ticket_changes import void_order

log = logging.getLogger("ticketing_service")


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    signer: TicketSigner
    verifier: TokenVerifier
    sender: KafkaSender
    relay: OutboxRelay  # sends the ticket events; woken after each change
    events: Subscription | None = None  # the order events, while running


def build(settings: Settings, *, engine: AsyncEngine | None = None) -> Services:
    engine = engine or db.make_engine(settings.database_url)
    sender = KafkaSender(settings.kafka_bootstrap_servers, (TICKET_EVENTS_TOPIC,))
    relay = OutboxRelay(engine, db.event_outbox, sender, logging.getLogger("ticketing_service.events"))
    return Services(settings, engine, TicketSigner(settings.signing_key_pem()),
                    TokenVerifier(settings.public_key_pem()), sender, relay)


def on_order_events(services: Services):
    """A fetch of order events, in order: tickets issued for each sale, voided for each cancellation."""
    issued = ActivityLog(log, "issued")  # one line per period: a drop sells hundreds of orders a second

    async def cancel(cancelled: OrderCancelled) -> None:
        if await void_order(services.engine, cancelled.order_id, cancelled.codes):
            services.relay.notify()
            log.info("tickets of cancelled order %s are void", cancelled.order_id[:8])

    async def handle(batch: list[dict[str, Any]]) -> None:
        fresh = await issue_in_order(services.engine, batch, services.signer, services.settings.festival_id, cancel)
        if fresh:
            services.relay.notify()
            issued.count("orders", len(fresh))
            issued.count("tickets", sum(i.quantity for sold in fresh for i in sold.items))
    return handle


@asynccontextmanager
async def running(services: Services) -> AsyncIterator[None]:
    settings = services.settings
    log_feed = LogFeed("ticketing-service", settings.kafka_bootstrap_servers, ("ticketing_service", "uvicorn.error"))
    log_feed.start()
    await db.create_schema(services.engine)
    revocations = subscribe_revocations(settings.kafka_bootstrap_servers, services.verifier)
    revocations.start()
    relay_task = asyncio.create_task(services.relay.run(), name="ticket-events-relay")
    handle = on_order_events(services)

    async def one(event: dict[str, Any]) -> None:
        await handle([event])

    services.events = Subscription(settings.kafka_bootstrap_servers, (ORDER_EVENTS_TOPIC,), one,
                                   batch_handler=handle, group_id="ticketing-service", from_beginning=True)
    services.events.start()
    try:
        yield
    finally:
        await services.events.stop()
        await cancel_and_wait(relay_task)
        await services.sender.close()
        await revocations.stop()
        await services.engine.dispose()
        await log_feed.stop()
