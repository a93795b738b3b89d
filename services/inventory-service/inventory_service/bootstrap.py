"""Wires the inventory in one place: the database engine, the Kafka producer and the outbox relay it feeds,
the command consumer, the expiry watch on holds and the payments it hears of; `build` makes them (no I/O),
`running` starts and stops them. Routes get them
through the typed dependency `api.AppServices`; the fast tests build the same Services on a test database."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts.channels import CATALOG_EVENTS_TOPIC, ORDER_EVENTS_TOPIC, PAYMENT_EVENTS_TOPIC
from festflow_runtime.broker_logs import limit_broker_client_logs
from festflow_runtime.event_stream import Subscription, cancel_and_wait, stop_within
from festflow_runtime.kafka_clients import CLIENT_OPTIONS
from festflow_runtime.log_feed import LogFeed
from festflow_runtime.topics import ensure_topics
from inventory_service import db
from inventory_service.command_consumer import CommandConsumer
from inventory_service.hold_keeper import ExpiryWatch, on_payment_batches, on_payments
from inventory_service.outbox_relay import OutboxRelay
from inventory_service.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    relay: OutboxRelay  # publishes the event outbox; woken after each change
    consumer: CommandConsumer
    expiry: ExpiryWatch  # releases the holds past their deadline
    producer: AIOKafkaProducer | None = None  # made when the service starts (it needs the running loop)
    payments: Subscription | None = None  # the payment events, while running


def build(settings: Settings, *, engine: AsyncEngine | None = None) -> Services:
    engine = engine or db.make_engine(settings.database_url)
    relay = OutboxRelay(engine)
    consumer = CommandConsumer(engine, settings.amqp_url, settings.amqp_prefetch, lambda _outcome: relay.notify())
    return Services(settings, engine, relay, consumer, ExpiryWatch(engine, lambda _outcome: relay.notify()))


@asynccontextmanager
async def running(services: Services) -> AsyncIterator[None]:
    """The schema and the seed, the topics, then the producer, the relay and the consumer; stopped in reverse."""
    settings = services.settings
    log_feed = LogFeed("inventory-service", settings.kafka_bootstrap_servers, ("inventory_service", "uvicorn.error"))
    log_feed.start()
    await db.create_schema(services.engine)
    await db.seed(services.engine, settings.seed_bank_account())
    await ensure_topics(settings.kafka_bootstrap_servers, (ORDER_EVENTS_TOPIC, CATALOG_EVENTS_TOPIC,
                                                           PAYMENT_EVENTS_TOPIC))
    limit_broker_client_logs()
    producer = services.producer = services.relay.producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True, linger_ms=0, **CLIENT_OPTIONS,
        retry_backoff_ms=500)
    await producer.start()
    relay_task = asyncio.create_task(services.relay.run(), name="outbox-relay")
    await services.consumer.start()
    expiry_task = asyncio.create_task(services.expiry.run(), name="hold-expiry")
    notify = lambda _outcome: services.relay.notify()  # noqa: E731
    services.payments = Subscription(settings.kafka_bootstrap_servers, (PAYMENT_EVENTS_TOPIC,),
                                     on_payments(services.engine, notify), group_id="inventory-service",
                                     from_beginning=True, batch_handler=on_payment_batches(services.engine, notify))
    services.payments.start()
    try:
        yield
    finally:
        await services.payments.stop()
        await cancel_and_wait(expiry_task)
        await services.consumer.close()
        await cancel_and_wait(relay_task)
        await stop_within(producer.stop())
        await services.engine.dispose()
        await log_feed.stop()
