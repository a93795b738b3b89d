"""Consumes order commands from RabbitMQ; acknowledges each only after its transaction commits.

A malformed command is dead-lettered at once. Any other failure returns the command to the queue,
whose delivery limit dead-letters it if it keeps failing. Only the same order id already recorded
counts as a duplicate: any other integrity error is a failure, never a silent ack.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts.amqp import declare_order_commands
from inventory_service.reservation import InvalidCommand, Outcome, PlaceOrder, already_processed, place_order

log = logging.getLogger("inventory_service.consumer")


class CommandConsumer:
    def __init__(self, engine: AsyncEngine, amqp_url: str, prefetch: int,
                 on_outcome: Callable[[Outcome], None], retry_pause: float = 0.5):
        self.engine = engine
        self.retry_pause = retry_pause
        self.amqp_url = amqp_url
        self.prefetch = prefetch
        self.on_outcome = on_outcome
        self.connection: aio_pika.abc.AbstractRobustConnection | None = None
        self.consuming = False

    async def start(self) -> None:
        self.connection = await aio_pika.connect_robust(self.amqp_url)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        queue = await declare_order_commands(channel)
        await queue.consume(self.handle)
        self.consuming = True
        log.info("consuming %s", queue.name)

    async def handle(self, message: AbstractIncomingMessage) -> None:
        try:
            command = PlaceOrder.parse(json.loads(message.body))
        except (InvalidCommand, ValueError) as exc:
            log.error("dead-lettering malformed command %s: %s", message.message_id, exc)
            await message.reject(requeue=False)
            return
        try:
            try:
                outcome = await place_order(self.engine, command)
            except IntegrityError:
                if not await already_processed(self.engine, command.order_id):
                    raise
                outcome = Outcome(command.order_id, "DUPLICATE")
        except Exception:
            log.exception("order %s failed; returning it to the queue", command.order_id)
            await asyncio.sleep(self.retry_pause)
            await message.nack(requeue=True)
            return
        await message.ack()
        if outcome.status == "DUPLICATE":
            log.info("order %s was already processed; redelivery ignored", command.order_id)
        else:
            stock = ", ".join(f"stock of {s['ticket_id']} is now {s['stock']}"
                              for s in (outcome.event or {}).get("data", {}).get("stock", []))
            log.info("order %s consumed: %s%s", command.order_id[:8], outcome.status,
                     f" ({outcome.reason})" if outcome.reason else f"; {stock}")
        self.on_outcome(outcome)

    async def close(self) -> None:
        if self.connection:
            await self.connection.close()
