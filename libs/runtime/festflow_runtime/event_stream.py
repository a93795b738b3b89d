"""Consuming FestFlow events from Kafka: decode the envelope, hand it to a handler, commit after.

A handler that raises is retried from the same offset (after a pause), up to `max_attempts` times;
a record that still fails is parked on `<topic>.parked` (a dead-letter topic, with the reason in its
headers) and the partition moves on, so one bad record never blocks the ones behind it. An undecodable
record is parked at once: it can never succeed.

While Kafka is away the subscription reconnects with exponential backoff and jitter, says so once when
the outage starts and once when it ends, and stops within a few seconds whatever Kafka is doing.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from festflow_contracts.events import InvalidEvent, decode
from festflow_contracts.messages import InvalidMessage
from festflow_runtime.backoff import Backoff
from festflow_runtime.broker_logs import limit_broker_client_logs
from festflow_runtime.kafka_clients import CLIENT_OPTIONS
from festflow_runtime.topics import TOPICS, ensure_topics

log = logging.getLogger("festflow.event_stream")

Handler = Callable[[dict[str, Any]], Awaitable[None]]
BatchHandler = Callable[[list[dict[str, Any]]], Awaitable[None]]
Park = Callable[[Any, str], Awaitable[None]]
STOP_SECONDS = 3.0


def parked_topic(topic: str) -> str:
    return f"{topic}.parked"


def make_consumer(bootstrap: str, *topics: str, group_id: str | None,
                  from_beginning: bool) -> AIOKafkaConsumer:
    """group_id=None: every instance sees every event (fan-out, e.g. to WebSockets), no commits."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        **CLIENT_OPTIONS,
        retry_backoff_ms=500,
        request_timeout_ms=10000,
    )


COMMIT_INTERVAL = 0.2  # seconds
# After a batch of events the loop waits this long before taking the next: meanwhile the one fetch that
# aiokafka has in flight brings whatever arrived, so while events stream (a drop) each fetch, for the
# broker and for this consumer, carries a batch instead of one event. A quiet consumer is not slowed:
# it long-polls as before, and an event arriving then is handled at once.
LINGER = 0.025  # seconds


async def consume_events(consumer: AIOKafkaConsumer, handler: Handler, park: Park, *, max_attempts: int = 5,
                         retry_pause: float = 1.0, commit: bool = True, linger: float = LINGER,
                         batch_handler: BatchHandler | None = None) -> None:
    """The loop of one connected consumer; returns only by raising (a broker failure or cancellation).

    With a `batch_handler`, the records of one partition that came together are handed to it at once (one
    transaction for all, say); if it fails, or one of them cannot be decoded, they go to `handler` one by
    one as usual (every handler takes an event again: at-least-once)."""
    attempts: dict[tuple[TopicPartition, int], int] = {}
    uncommitted: dict[TopicPartition, int] = {}
    last_commit = float("-inf")
    while True:
        batch = await consumer.getmany(timeout_ms=1000, max_records=500)
        if not batch and uncommitted:  # quiet: say where this group is
            await consumer.commit(uncommitted)
            uncommitted, last_commit = {}, time.monotonic()
        done: dict[TopicPartition, int] = {}
        failed = False
        for tp, records in batch.items():
            if batch_handler is not None and len(records) > 1 and await _as_batch(batch_handler, records):
                done[tp] = records[-1].offset + 1
                continue
            for record in records:
                try:
                    event = decode(record.value)
                except InvalidEvent as exc:
                    log.warning("parking undecodable record %s@%s: %s", tp, record.offset, exc)
                    await park(record, f"undecodable: {exc}")
                    done[tp] = record.offset + 1
                    continue
                try:
                    await handler(event)
                except asyncio.CancelledError:
                    raise
                except InvalidMessage as exc:  # not what its type says: no retry can help
                    log.warning("parking %s %s: %s", event["type"], event["id"], exc)
                    await park(record, f"invalid: {exc}"[:500])
                except Exception as exc:
                    tries = attempts.get((tp, record.offset), 0) + 1
                    if tries < max_attempts:
                        attempts[(tp, record.offset)] = tries
                        log.exception("handler failed on %s %s (attempt %d of %d); will retry",
                                      event["type"], event["id"], tries, max_attempts)
                        consumer.seek(tp, record.offset)
                        failed = True
                        break
                    attempts.pop((tp, record.offset), None)
                    log.error("parking %s %s after %d failed attempts: %r", event["type"], event["id"], tries, exc)
                    await park(record, f"handler failed {tries} times: {exc!r}"[:500])
                attempts.pop((tp, record.offset), None)
                done[tp] = record.offset + 1
        if commit and done:
            # at most one commit per COMMIT_INTERVAL while events stream in (a drop's events would cost the
            # broker a commit per group per event); a restart may handle the last few again, which every
            # handler takes (at-least-once: they deduplicate)
            uncommitted.update(done)
            if time.monotonic() - last_commit >= COMMIT_INTERVAL:
                await consumer.commit(uncommitted)
                uncommitted, last_commit = {}, time.monotonic()
        if failed:
            await asyncio.sleep(retry_pause)
        elif batch and linger:
            await asyncio.sleep(linger)


async def _as_batch(batch_handler: BatchHandler, records: list[Any]) -> bool:
    """Whether the batch handler took all of these records."""
    try:
        batch = [decode(record.value) for record in records]
    except InvalidEvent:
        return False  # the one-by-one path parks it
    try:
        await batch_handler(batch)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.info("a batch of %d events failed (%r); handling them one by one", len(batch), exc)
        return False
    return True


def is_assigned(consumer: AIOKafkaConsumer) -> bool:
    return bool(consumer.assignment())


class Subscription:
    """Runs a consumer for as long as the app lives: connects when Kafka is there, reconnects after a
    failure, parks records that keep failing, and tells whether it is ready (partitions assigned)."""

    def __init__(self, bootstrap: str, topics: tuple[str, ...], handler: Handler, *, group_id: str | None,
                 from_beginning: bool, max_attempts: int = 5, retry_pause: float = 1.0,
                 backoff_start: float = 0.5, backoff_max: float = 15.0, batch_handler: BatchHandler | None = None):
        self._args = (bootstrap, topics, group_id, from_beginning)
        self._handler = handler
        self._batch_handler = batch_handler
        self._max_attempts, self._retry_pause = max_attempts, retry_pause
        self._backoff = (backoff_start, backoff_max)
        self.consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task | None = None
        self.parked = 0

    @property
    def ready(self) -> bool:
        return self.consumer is not None and is_assigned(self.consumer)

    @property
    def _name(self) -> str:
        return ",".join(self._args[1])

    async def _park(self, record: Any, reason: str) -> None:
        """Copies the record to its topic's parked topic, with where it came from and why."""
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self._args[0], enable_idempotence=True,
                                              **CLIENT_OPTIONS)
            await self._producer.start()
        headers = [("festflow-parked-reason", reason.encode()),
                   ("festflow-parked-from", f"{record.topic}/{record.partition}/{record.offset}".encode()),
                   ("festflow-parked-by", (self._args[2] or "fan-out").encode())]
        await self._producer.send_and_wait(parked_topic(record.topic), record.value, key=record.key,
                                           headers=headers)
        self.parked += 1

    async def _run(self) -> None:
        bootstrap, topics, group_id, from_beginning = self._args
        backoff = Backoff(log, f"consuming {self._name} from Kafka", *self._backoff)
        while True:
            consumer = make_consumer(bootstrap, *topics, group_id=group_id, from_beginning=from_beginning)
            failure: Exception | None = None
            try:
                # a topic nobody has written to yet is made with its settings, not auto-created bare
                await ensure_topics(bootstrap, tuple(topic for topic in topics if topic in TOPICS))
                await consumer.start()
                self.consumer = consumer
                backoff.succeeded()
                await consume_events(consumer, self._handler, self._park, max_attempts=self._max_attempts,
                                     retry_pause=self._retry_pause, commit=group_id is not None,
                                     batch_handler=self._batch_handler)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = exc
            finally:
                self.consumer = None
                await stop_within(consumer.stop())
            await backoff.failed(failure)

    def start(self) -> None:
        limit_broker_client_logs()
        self._task = asyncio.create_task(self._run(), name=f"subscription:{self._name}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        if self._producer is not None:
            await stop_within(self._producer.stop())


async def stop_within(stopping: Awaitable[Any], seconds: float = STOP_SECONDS) -> None:
    """Awaits a client's stop, but no longer than `seconds`: a broker that is away must not hold up a
    shutdown (aiokafka waits up to its request timeout otherwise)."""
    try:
        await asyncio.wait_for(stopping, seconds)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # TimeoutError, or the client's own error while the broker is away
        log.debug("a Kafka client did not stop cleanly: %r", exc)


async def cancel_and_wait(task: asyncio.Task | None) -> None:
    """Cancels a background task and waits until it has finished."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
