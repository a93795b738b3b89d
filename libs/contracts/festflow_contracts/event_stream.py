"""Consuming FestFlow events from Kafka: decode the envelope, hand it to a handler, commit after.

A handler that raises is retried from the same offset (after a pause), so nothing is skipped;
an undecodable record is logged and skipped (it can never succeed).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from festflow_contracts.events import InvalidEvent, decode

log = logging.getLogger("festflow.event_stream")

Handler = Callable[[dict[str, Any]], Awaitable[None]]


def make_consumer(bootstrap: str, *topics: str, group_id: str | None,
                  from_beginning: bool) -> AIOKafkaConsumer:
    """group_id=None: every instance sees every event (fan-out, e.g. to WebSockets), no commits."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        metadata_max_age_ms=5000,
    )


async def consume_events(consumer: AIOKafkaConsumer, handler: Handler, retry_pause: float = 1.0) -> None:
    commit = consumer._group_id is not None
    while True:
        batch = await consumer.getmany(timeout_ms=1000, max_records=500)
        done: dict[TopicPartition, int] = {}
        failed = False
        for tp, records in batch.items():
            for record in records:
                try:
                    event = decode(record.value)
                except InvalidEvent as exc:
                    log.warning("skipping undecodable record %s@%s: %s", tp, record.offset, exc)
                    done[tp] = record.offset + 1
                    continue
                try:
                    await handler(event)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("handler failed on %s %s; will retry", event["type"], event["id"])
                    consumer.seek(tp, record.offset)
                    failed = True
                    break
                done[tp] = record.offset + 1
        if commit and done:
            await consumer.commit(done)
        if failed:
            await asyncio.sleep(retry_pause)


def is_assigned(consumer: AIOKafkaConsumer) -> bool:
    return bool(consumer.assignment())


class Subscription:
    """Runs a consumer for as long as the app lives: connects when Kafka is there, reconnects after a
    failure, and tells whether it is ready (partitions assigned) for /healthz."""

    def __init__(self, bootstrap: str, topics: tuple[str, ...], handler: Handler, *, group_id: str | None,
                 from_beginning: bool, retry_pause: float = 2.0):
        self._args = (bootstrap, topics, group_id, from_beginning)
        self._handler = handler
        self._retry_pause = retry_pause
        self.consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None

    @property
    def ready(self) -> bool:
        return self.consumer is not None and is_assigned(self.consumer)

    async def _run(self) -> None:
        bootstrap, topics, group_id, from_beginning = self._args
        while True:
            consumer = make_consumer(bootstrap, *topics, group_id=group_id, from_beginning=from_beginning)
            try:
                await consumer.start()
                self.consumer = consumer
                await consume_events(consumer, self._handler)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer of %s stopped (%s); reconnecting", ",".join(topics), exc)
            finally:
                self.consumer = None
                await consumer.stop()
            await asyncio.sleep(self._retry_pause)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"subscription:{','.join(self._args[1])}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)


async def cancel_and_wait(task: asyncio.Task | None) -> None:
    """Cancels a background task and waits until it has finished."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
