"""An event outbox relayed to Kafka: a service writes each event it emits into its `event_outbox` table in
the transaction of what the event tells, and `OutboxRelay` sends the unsent rows in order, each
acknowledged by the broker, then marks them sent.

At-least-once: a crash between Kafka's acknowledgement and the mark sends an event again; consumers
deduplicate on the event id. While Kafka is away the rows wait (and the relay says so once).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events
from festflow_runtime.backoff import Backoff
from festflow_runtime.event_stream import stop_within
from festflow_runtime.kafka_clients import CLIENT_OPTIONS
from festflow_runtime.relay_loop import relay_rows, run_relay
from festflow_runtime.topics import ensure_topics


def outbox_table(metadata: sa.MetaData, name: str = "event_outbox") -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(80), nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("sent_at", sa.String(40), index=True),
    )


async def emit(conn: AsyncConnection, table: sa.Table, topic: str, key: str, event: dict[str, Any]) -> None:
    """Writes `event` into the outbox, inside the caller's transaction."""
    await emit_many(conn, table, [(topic, key, event)])


async def emit_many(conn: AsyncConnection, table: sa.Table, emitted: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    """Writes several events (topic, key, event) into the outbox in one statement, in this order, inside
    the caller's transaction."""
    if emitted:
        now = events.now_iso()
        await conn.execute(table.insert(), [{"topic": topic, "key": key, "payload": events.encode(event).decode(),
                                             "created_at": now} for topic, key, event in emitted])


Record = tuple[str, str, bytes]  # topic, key, payload


class EventSender(Protocol):
    async def send_many(self, records: Sequence[Record]) -> tuple[int, Exception | None]:
        """Sends the records in order: how many of them, from the first, the broker acknowledged, and what
        stopped the rest (None when all were)."""
        ...


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, table: sa.Table, sender: EventSender, log: logging.Logger,
                 batch: int = 200):
        self.engine, self.table, self.sender, self.log, self.batch = engine, table, sender, log, batch
        self.wakeup = asyncio.Event()

    def notify(self) -> None:
        """A new event was committed: relay it now rather than at the next poll."""
        self.wakeup.set()

    async def relay_pending(self) -> int:
        t = self.table

        async def publish(rows: Sequence[Any]) -> tuple[Sequence[Any], Exception | None]:
            # one batch, in order: the events of one key reach its partition in the order they were made
            acked, failure = await self.sender.send_many([(row.topic, row.key, row.payload.encode()) for row in rows])
            return rows[:acked], failure

        async def mark(conn: AsyncConnection, rows: Sequence[Any]) -> None:
            await conn.execute(t.update().where(t.c.seq.in_([row.seq for row in rows]))
                               .values(sent_at=events.now_iso()))

        return await relay_rows(self.engine, sa.select(t.c.seq, t.c.topic, t.c.key, t.c.payload)
                                .where(t.c.sent_at.is_(None)).order_by(t.c.seq).limit(self.batch), publish, mark)

    async def run(self) -> None:
        await run_relay(self.relay_pending, self.wakeup, self.batch,
                        Backoff(self.log, f"relaying {self.table.name} to Kafka (events wait in the outbox)",
                                0.5, 15.0))


class KafkaSender:
    """An idempotent Kafka producer, started on first use (creating the topics) and again after a failure."""

    def __init__(self, bootstrap: str, topics: tuple[str, ...]):
        self.bootstrap, self.topics = bootstrap, topics
        self._producer: AIOKafkaProducer | None = None

    async def send_many(self, records: Sequence[Record]) -> tuple[int, Exception | None]:
        """Queues every record at once (the producer packs them into a few requests), then waits for the
        acknowledgements; a failure restarts the producer at the next call."""
        if self._producer is None:
            await ensure_topics(self.bootstrap, self.topics)
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True, **CLIENT_OPTIONS,
                                        request_timeout_ms=10_000)
            await producer.start()
            self._producer = producer
        producer = self._producer
        pending: list[asyncio.Future[Any]] = []
        failure: Exception | None = None
        try:
            for topic, key, payload in records:
                pending.append(await producer.send(topic, payload, key=key.encode()))
        except Exception as exc:
            failure = exc
        acked = 0
        for result in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(result, BaseException):
                failure = failure or (result if isinstance(result, Exception) else RuntimeError(repr(result)))
                break
            acked += 1
        if failure is not None:
            self._producer = None
            await stop_within(producer.stop())
        return acked, failure

    async def close(self) -> None:
        if self._producer is not None:
            await stop_within(self._producer.stop())
            self._producer = None
