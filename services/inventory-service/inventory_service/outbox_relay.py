"""Publishes outbox rows to Kafka in order (idempotent producer, keyed by order), then marks them sent.

At-least-once: a crash between send and mark re-sends; consumers deduplicate on the event id. While
Kafka is away the relay backs off (exponentially, with jitter) and says so once, and once when it is back.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_runtime.backoff import Backoff
from festflow_runtime.relay_loop import relay_rows, run_relay
from inventory_service.db import outbox

log = logging.getLogger("inventory_service.outbox")

BATCH = 200


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, producer: AIOKafkaProducer | None = None):
        """`producer`: set before `run` (bootstrap.running makes it when the service starts)."""
        self.engine = engine
        self.producer = producer
        self.wakeup = asyncio.Event()

    def notify(self) -> None:
        self.wakeup.set()

    async def publish_pending(self) -> int:
        async def publish(rows: Sequence[Any]) -> tuple[Sequence[Any], Exception | None]:
            assert self.producer is not None, "the relay runs once the service has started its producer"
            sends = [await self.producer.send(row.topic, row.payload.encode(), key=row.key.encode()) for row in rows]
            await asyncio.gather(*sends)  # a failure raises: nothing of the batch is marked, all is sent again
            return rows, None

        async def mark(conn: AsyncConnection, rows: Sequence[Any]) -> None:
            await conn.execute(outbox.update().where(outbox.c.seq.in_([row.seq for row in rows]))
                               .values(published=True))

        return await relay_rows(self.engine, sa.select(outbox.c.seq, outbox.c.topic, outbox.c.key, outbox.c.payload)
                                .where(outbox.c.published == sa.false()).order_by(outbox.c.seq).limit(BATCH),
                                publish, mark)

    async def run(self) -> None:
        await run_relay(self.publish_pending, self.wakeup, BATCH,
                        Backoff(log, "publishing events to Kafka (they wait in the outbox)"))
