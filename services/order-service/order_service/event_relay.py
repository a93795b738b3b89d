"""Relays the event outbox to Kafka: unsent rows in order, each acknowledged by the broker, then marked.

At-least-once, like the command relay: a crash between Kafka's acknowledgement and the mark sends an
event again, and its consumers deduplicate on the event id. While Kafka is away the rows wait.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events
from festflow_runtime.backoff import Backoff
from festflow_runtime.event_stream import stop_within
from festflow_runtime.relay_loop import run_relay
from festflow_runtime.topics import ensure_topics
from order_service.db import event_outbox

log = logging.getLogger("order_service.event_relay")


class EventSender(Protocol):
    async def send(self, topic: str, key: str, payload: bytes) -> None: ...


class EventRelay:
    def __init__(self, engine: AsyncEngine, sender: EventSender, batch: int = 200):
        self.engine, self.sender, self.batch = engine, sender, batch
        self.wakeup = asyncio.Event()

    def notify(self) -> None:
        self.wakeup.set()

    async def relay_pending(self) -> int:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(event_outbox.c.seq, event_outbox.c.topic, event_outbox.c.key, event_outbox.c.payload)
                .where(event_outbox.c.sent_at.is_(None)).order_by(event_outbox.c.seq).limit(self.batch))).all()
        sent: list[int] = []
        try:
            for row in rows:  # one by one, in order: an account's mails go out in the order they were asked
                await self.sender.send(row.topic, row.key, row.payload.encode())
                sent.append(row.seq)
        finally:
            if sent:
                async with self.engine.begin() as conn:
                    await conn.execute(event_outbox.update().where(event_outbox.c.seq.in_(sent))
                                       .values(sent_at=events.now_iso()))
        return len(sent)

    async def run(self) -> None:
        await run_relay(self.relay_pending, self.wakeup, self.batch,
                        Backoff(log, "relaying account events to Kafka (they wait in the outbox)", 0.5, 15.0))


class KafkaSender:
    """An idempotent Kafka producer, started on first use and started again after a failure."""

    def __init__(self, bootstrap: str, topics: tuple[str, ...]):
        self.bootstrap, self.topics = bootstrap, topics
        self._producer: AIOKafkaProducer | None = None

    async def send(self, topic: str, key: str, payload: bytes) -> None:
        if self._producer is None:
            await ensure_topics(self.bootstrap, self.topics)
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True,
                                        request_timeout_ms=10_000)
            await producer.start()
            self._producer = producer
        producer = self._producer
        try:
            await producer.send_and_wait(topic, payload, key=key.encode())
        except Exception:
            self._producer = None
            await stop_within(producer.stop())
            raise

    async def close(self) -> None:
        if self._producer is not None:
            await stop_within(self._producer.stop())
            self._producer = None
