"""Tells every app about a logout: TOKEN_REVOKED events on Kafka, sent from a queue in the background
(a logout never waits for Kafka), retried with backoff while Kafka is away."""
from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer

from festflow_contracts import events, messages
from festflow_contracts.channels import AUTH_EVENTS_TOPIC
from festflow_runtime.backoff import Backoff
from festflow_runtime.event_stream import stop_within
from festflow_runtime.kafka_clients import CLIENT_OPTIONS

log = logging.getLogger("order_service.revocations")
SOURCE = "/festflow/order-service"


class RevocationPublisher:
    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap
        self.queue: asyncio.Queue[dict] = asyncio.Queue(maxsize=10_000)

    def revoke(self, jti: str, exp: int) -> None:
        try:
            self.queue.put_nowait(messages.envelope(messages.TokenRevoked(jti=jti, exp=exp), SOURCE, subject=jti))
        except asyncio.QueueFull:
            log.warning("revocation queue full; token %s is refused here only", jti[:8])

    async def run(self) -> None:
        backoff = Backoff(log, "sending revocations to Kafka", start=0.5, maximum=15.0)
        while True:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True, **CLIENT_OPTIONS)
            failure: Exception | None = None
            try:
                await producer.start()
                backoff.succeeded()
                while True:
                    event = await self.queue.get()
                    try:
                        await producer.send_and_wait(AUTH_EVENTS_TOPIC, events.encode(event),
                                                     key=event["data"]["jti"].encode())
                    except Exception:
                        self.queue.put_nowait(event)  # sent again after reconnecting
                        raise
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = exc
            finally:
                await stop_within(producer.stop())
            await backoff.failed(failure)
