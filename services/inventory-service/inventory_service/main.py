"""Inventory service: a RabbitMQ command consumer, an outbox relay to Kafka, and a small HTTP API."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from festflow_contracts.channels import CATALOG_EVENTS_TOPIC, ORDER_EVENTS_TOPIC
from festflow_runtime.broker_logs import limit_broker_client_logs
from festflow_runtime.event_stream import cancel_and_wait, stop_within
from festflow_runtime.http_errors import install_error_handlers
from festflow_runtime.log_feed import LogFeed
from festflow_runtime.startup_heap import freeze_startup_heap
from festflow_runtime.topics import ensure_topics
from inventory_service import db
from inventory_service.api import internal, router
from inventory_service.command_consumer import CommandConsumer
from inventory_service.outbox_relay import OutboxRelay
from inventory_service.settings import Settings

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings: Settings = app.state.settings
    log_feed = LogFeed("inventory-service", settings.kafka_bootstrap_servers, ("inventory_service", "uvicorn.error"))
    log_feed.start()
    engine = db.make_engine(settings.database_url)
    await db.create_schema(engine)
    await db.seed(engine)
    await ensure_topics(settings.kafka_bootstrap_servers, (ORDER_EVENTS_TOPIC, CATALOG_EVENTS_TOPIC))
    limit_broker_client_logs()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True,
                                linger_ms=0, retry_backoff_ms=500)
    await producer.start()
    relay = OutboxRelay(engine, producer)
    relay_task = asyncio.create_task(relay.run(), name="outbox-relay")
    consumer = CommandConsumer(engine, settings.amqp_url, settings.amqp_prefetch, lambda _outcome: relay.notify())
    await consumer.start()
    app.state.engine, app.state.producer, app.state.consumer, app.state.relay = engine, producer, consumer, relay
    freeze_startup_heap()  # no full garbage collection walks what was made at start
    try:
        yield
    finally:
        await consumer.close()
        await cancel_and_wait(relay_task)
        await stop_within(producer.stop())
        await engine.dispose()
        await log_feed.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The inventory service (run by `uvicorn --factory inventory_service.main:create_app`)."""
    app = FastAPI(title="FestFlow inventory service", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # internal: no documents of its routes for strangers
    app.state.settings = settings or Settings()
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(internal)
    return app
