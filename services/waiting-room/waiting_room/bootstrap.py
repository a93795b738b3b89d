"""Wires the waiting room in one place: `build` makes its Services from the settings (no I/O), `running` creates
the schema, keeps the token verifier current with logouts, relays the room's announcements to Kafka, hears
which admitted buyers have bought (order events) and runs the admission (a tick each `tick_seconds`)."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events
from festflow_contracts.channels import CATALOG_EVENTS_TOPIC, ORDER_EVENTS_TOPIC
from festflow_contracts.tokens import TokenVerifier
from festflow_runtime.backoff import Backoff
from festflow_runtime.event_stream import Subscription, cancel_and_wait
from festflow_runtime.log_feed import LogFeed
from festflow_runtime.outbox import KafkaSender, OutboxRelay
from festflow_runtime.revocations import subscribe_revocations
from waiting_room import db, room
from waiting_room.accounts import Accounts, OrderServiceAccounts
from waiting_room.live import PlaceReader, RoomClock
from waiting_room.settings import Settings
from waiting_room.stock import CatalogStock

log = logging.getLogger("waiting_room.admission")
# an order placed with a pass (held for payment, or sold at once): the pass is spent
BOUGHT = (events.ORDER_HELD, events.ORDER_CONFIRMED)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    verifier: TokenVerifier
    sender: KafkaSender
    relay: OutboxRelay  # sends the room's announcements; woken after each change
    order_api: httpx.AsyncClient  # the order service: what is left to sell, whether an account is verified
    stock: CatalogStock
    accounts: Accounts
    clock: RoomClock  # the room after each tick, for the live streams
    reader: PlaceReader  # the live streams' reads of the buyers' rows, gathered
    joins: room.JoinQueue


def build(settings: Settings, *, engine: AsyncEngine | None = None, accounts: Accounts | None = None) -> Services:
    engine = engine or db.make_engine(settings.database_url)
    sender = KafkaSender(settings.kafka_bootstrap_servers, (CATALOG_EVENTS_TOPIC,))
    relay = OutboxRelay(engine, db.event_outbox, sender, logging.getLogger("waiting_room.events"))
    order_api = httpx.AsyncClient(base_url=settings.order_api_url, timeout=2.0)
    return Services(settings, engine, TokenVerifier(settings.public_key_pem()), sender, relay, order_api,
                    CatalogStock(order_api), accounts or OrderServiceAccounts(order_api), RoomClock(),
                    PlaceReader(engine), room.JoinQueue(engine))


async def admit_forever(services: Services) -> None:
    """Each tick: what is left to sell, then room.tick (the draw at the start, admission, sold out)."""
    settings = services.settings
    backoff = Backoff(log, "admitting buyers", 0.5, 10.0)
    last = time.monotonic()
    while True:
        await asyncio.sleep(settings.tick_seconds)
        now = time.monotonic()
        try:
            current = await room.load(services.engine)
            if current is None or not current["enabled"] or events.now_iso() < current["starts_at"]:
                services.clock.publish(current)
                last = now  # nothing to draw nor admit yet: the stock is not asked
                continue
            left = await services.stock.tickets_left(room.ticket_ids(current))
            done = await room.tick(services.engine, left, settings.checkout_capacity_per_second, seconds=now - last)
            services.clock.publish(await room.load(services.engine))
        except Exception as exc:
            await backoff.failed(exc)
            continue
        backoff.succeeded()
        last = now
        if done.drawn:
            log.info("the sale started: %d places drawn", done.drawn)
        if done.admitted:
            log.info("%d buyers admitted", done.admitted)


def on_order_events(engine: AsyncEngine):
    async def handle(batch: list[dict[str, Any]]) -> None:
        buyers = [(event["data"]["username"], str(event.get("time", ""))) for event in batch
                  if events.current_type(event.get("type", "")) in BOUGHT and isinstance(event.get("data"), dict)
                  and isinstance(event["data"].get("username"), str)]
        await room.mark_bought(engine, buyers)
    return handle


@asynccontextmanager
async def running(services: Services) -> AsyncIterator[None]:
    settings = services.settings
    log_feed = LogFeed("waiting-room", settings.kafka_bootstrap_servers, ("waiting_room", "uvicorn.error"))
    log_feed.start()
    await db.create_schema(services.engine)
    revocations = subscribe_revocations(settings.kafka_bootstrap_servers, services.verifier)
    revocations.start()
    handle = on_order_events(services.engine)

    async def one(event: dict[str, Any]) -> None:
        await handle([event])

    # from the group's committed offset (the first time from the beginning: a buyer who bought while this
    # instance was starting or restarting is not missed)
    orders = Subscription(settings.kafka_bootstrap_servers, (ORDER_EVENTS_TOPIC,), one, batch_handler=handle,
                          group_id="waiting-room", from_beginning=True)
    orders.start()
    relay_task = asyncio.create_task(services.relay.run(), name="waiting-room-relay")
    admission_task = asyncio.create_task(admit_forever(services), name="admission")
    try:
        yield
    finally:
        await cancel_and_wait(admission_task)
        await cancel_and_wait(relay_task)
        await orders.stop()
        await services.sender.close()
        await services.order_api.aclose()
        await revocations.stop()
        await services.engine.dispose()
        await log_feed.stop()
