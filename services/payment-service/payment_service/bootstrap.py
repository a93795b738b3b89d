"""Wires the payment service in one place: `build` makes its Services from the settings (no I/O), `running`
creates the schema, keeps the token verifier current with logouts, awaits the orders held for payment (order
events) and relays the payments it received to Kafka. Routes get them through the typed
dependency `api.AppServices`."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts.channels import ORDER_EVENTS_TOPIC, PAYMENT_EVENTS_TOPIC
from festflow_contracts.tokens import TokenVerifier
from festflow_runtime.event_stream import Subscription, cancel_and_wait
from festflow_runtime.log_feed import LogFeed
from festflow_runtime.outbox import KafkaSender, OutboxRelay
from festflow_runtime.revocations import subscribe_revocations
from payment_service import db
from payment_service.card_payments import CardStripe
from payment_service.order_events import on_order_events
from payment_service.payment_worker import PaymentWorker
from payment_service.settings import Settings
from payment_service.stripe_payments import StripePayments


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    verifier: TokenVerifier
    sender: KafkaSender
    relay: OutboxRelay  # sends the payment events; woken after each import
    cards: CardStripe | None  # Stripe; None while it is off (no STRIPE_SECRET_KEY)
    worker: PaymentWorker  # acts on webhook events and asks Stripe what is due
    orders: Subscription | None = None  # the order events, while running


def build(settings: Settings, *, engine: AsyncEngine | None = None, cards: CardStripe | None = None) -> Services:
    engine = engine or db.make_engine(settings.database_url)
    sender = KafkaSender(settings.kafka_bootstrap_servers, (PAYMENT_EVENTS_TOPIC,))
    relay = OutboxRelay(engine, db.event_outbox, sender, logging.getLogger("payment_service.events"))
    if cards is None and settings.stripe_secret_key:
        cards = StripePayments(settings.stripe_secret_key, settings.stripe_api_base)
    return Services(settings, engine, TokenVerifier(settings.public_key_pem()), sender, relay, cards,
                    PaymentWorker(engine, cards, relay.notify))


@asynccontextmanager
async def running(services: Services) -> AsyncIterator[None]:
    settings = services.settings
    log_feed = LogFeed("payment-service", settings.kafka_bootstrap_servers, ("payment_service", "uvicorn.error"))
    log_feed.start()
    await db.create_schema(services.engine)
    revocations = subscribe_revocations(settings.kafka_bootstrap_servers, services.verifier)
    revocations.start()  # logged-out tokens are refused here too
    relay_task = asyncio.create_task(services.relay.run(), name="payment-events-relay")
    worker_task = asyncio.create_task(services.worker.run(), name="payment-worker")
    handle = on_order_events(services.engine, services.worker.notify)

    async def one(event: dict[str, Any]) -> None:
        await handle([event])

    services.orders = Subscription(settings.kafka_bootstrap_servers, (ORDER_EVENTS_TOPIC,), one, batch_handler=handle,
                                   group_id="payment-service", from_beginning=True)
    services.orders.start()
    try:
        yield
    finally:
        await services.orders.stop()
        await cancel_and_wait(worker_task)
        await cancel_and_wait(relay_task)
        await services.sender.close()
        await revocations.stop()
        await services.engine.dispose()
        await log_feed.stop()
