"""Publishes order commands to RabbitMQ: persistent messages on a durable queue, with publisher confirms.

`publish` returns only once the broker has confirmed the message; otherwise it raises BrokerUnavailable.
The command relay calls it for the outbox's rows; no request waits on it.
"""
from __future__ import annotations

import asyncio
import logging

import aio_pika
import aiormq

from festflow_contracts.amqp import declare_order_commands
from festflow_contracts.channels import ORDER_COMMANDS_QUEUE
from festflow_runtime import amqp_nodes
from festflow_runtime.backoff import Backoff

log = logging.getLogger("order_service.publisher")


# aiormq queues at most FRAME_BUFFER_SIZE frames (10) for its writer; a publish finding the queue full
# waits there holding the channel's lock, and the others then take turns on that lock, a loop turn each.
# A relay batch (up to 500 commands) is queued at once instead. (A class setting: every connection made
# after this import queues as many.)
FRAME_BUFFER = 1024
aiormq.Connection.FRAME_BUFFER_SIZE = max(aiormq.Connection.FRAME_BUFFER_SIZE, FRAME_BUFFER)


class BrokerUnavailable(Exception):
    pass


class CommandPublisher:
    def __init__(self, amqp_url: str):
        self.amqp_url = amqp_url
        self.connection: aio_pika.abc.AbstractRobustConnection | None = None
        self.channel: aio_pika.abc.AbstractChannel | None = None
        self._connect_task: asyncio.Task | None = None

    async def start(self) -> None:
        """Connects now if the broker is up, else keeps trying in the background."""
        try:
            await self._connect()
        except Exception as exc:
            log.warning("RabbitMQ not reachable yet (%s); retrying in the background", exc)
            self._connect_task = asyncio.create_task(self._connect_forever())

    async def _connect(self) -> None:
        self.connection = await amqp_nodes.connect(self.amqp_url, timeout=5)
        self.channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        await declare_order_commands(self.channel)

    async def _connect_forever(self) -> None:
        # once connected, aio-pika's robust connection reconnects by itself (every 5 s)
        backoff = Backoff(log, "connecting to RabbitMQ", start=0.5, maximum=10.0)
        while True:
            try:
                await self._connect()
                backoff.succeeded()
                return
            except Exception as exc:
                await backoff.failed(exc)

    @property
    def healthy(self) -> bool:
        return bool(self.connection and not self.connection.is_closed and self.channel
                    and not self.channel.is_closed)

    async def publish(self, body: bytes, message_id: str, type_: str) -> None:
        """Returns once the broker confirmed the message (the caller bounds the wait: the command relay gives
        a batch one deadline), or raises BrokerUnavailable."""
        channel = self.channel
        if channel is None or not self.healthy:
            raise BrokerUnavailable("message broker is not connected")
        message = aio_pika.Message(
            body, message_id=message_id, content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT, type=type_,
        )
        try:
            # aiormq's own publish with wait=False: it still returns only with the broker's confirm, but does
            # not hold the channel's lock until the frame is on the socket. Holding it made a batch's
            # publishes take turns, three loop turns each: under a drop's load, seconds for a batch
            underlay = await channel.get_underlay_channel()
            assert isinstance(underlay, aiormq.Channel)
            await underlay.basic_publish(
                body, exchange="", routing_key=ORDER_COMMANDS_QUEUE, properties=message.properties, mandatory=True,
                wait=False)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise BrokerUnavailable(f"message broker did not confirm the order ({exc.__class__.__name__})") from exc

    async def close(self) -> None:
        if self._connect_task:
            self._connect_task.cancel()
        if self.connection:
            await self.connection.close()
