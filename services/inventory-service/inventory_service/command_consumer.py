"""Consumes order commands from RabbitMQ; acknowledges each only after its transaction commits.

The place-order commands delivered together (up to the prefetch) are placed in one transaction; when
that fails, each is placed alone, so each command's failure, retry and dead-lettering are its own. The
commands settled together are acknowledged with one frame (festflow_runtime.acks).

A bundle (several place-order commands in one message, festflow_contracts.command_bundle) is placed as
if its commands had been delivered together. It is acknowledged once every command in it is settled; if
one failed, the bundle goes back to the queue (the commands placed are duplicates when it returns, and
are acknowledged as such), and at its last delivery the orders that still fail are REJECTED with a
reason and the bundle is dead-lettered. A malformed command in a bundle is REJECTED with a reason, if it
names its order, and logged; the rest of the bundle is placed.

A malformed command is dead-lettered at once. Any other failure returns the command to the queue, up
to the queue's delivery limit; at the last delivery the command is dead-lettered. Either way an order
the command names is recorded REJECTED with a reason first, so it never stays PENDING. Only the same
order id already recorded counts as a duplicate: any other integrity error is a failure, never a
silent ack.

A command that changes one order (a cancellation, a card hold paid by transfer instead) is applied in its
own transaction, retried the same way and dead-lettered when malformed.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aio_pika
import aiormq
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import command_bundle, events, messages
from festflow_contracts.amqp import DELIVERY_LIMIT, declare_order_commands
from festflow_contracts.messages import CancelOrder, Message, PayByBankTransfer
from festflow_runtime import amqp_nodes
from festflow_runtime.acks import AckBatcher
from festflow_runtime.activity import ActivityLog
from festflow_runtime.backoff import Backoff
from festflow_runtime.batching import Batcher
from inventory_service.cancellation import cancel_order
from inventory_service.payment_choice import pay_by_bank_transfer
from inventory_service.reservation import (
    InvalidCommand,
    Outcome,
    parse_command,
    place_order,
    place_orders,
    reject_unprocessable,
    sender_of,
)


def deliveries(message: AbstractIncomingMessage) -> int:
    """How often the quorum queue delivered this message before (its x-delivery-count header)."""
    try:
        return int((message.headers or {}).get("x-delivery-count", 0))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0

M = TypeVar("M", bound=Message)
log = logging.getLogger("inventory_service.consumer")

MALFORMED = "this order could not be processed (it was malformed); you have not been charged"
FAILED = "this order could not be processed; you have not been charged"


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
        self.acks = AckBatcher(log)
        self.activity = ActivityLog(log, "orders")  # one line per period: a drop places hundreds a second
        # the commands delivered together are placed in one transaction (each alone if that fails)
        self.placements: Batcher[messages.PlaceOrder, Outcome] = Batcher(
            lambda commands: place_orders(self.engine, commands), lambda command: place_order(self.engine, command),
            max_size=max(1, prefetch))

    async def start(self, attempts: int = 8) -> None:
        """Connects and consumes, trying again with backoff (up to `attempts` times) when the broker refuses:
        two instances starting together on a fresh broker can ask to consume before the quorum queue the
        other one declared has started, and RabbitMQ then closes the connection (INTERNAL_ERROR, noproc)."""
        backoff = Backoff(log, "starting to consume order commands", start=0.5, maximum=5.0)
        for attempt in range(1, attempts + 1):
            try:
                await self._consume()
                backoff.succeeded()
                return
            except (aiormq.exceptions.AMQPError, ConnectionError, OSError) as exc:
                await self.close()
                if attempt == attempts:
                    raise
                await backoff.failed(exc)

    async def _consume(self) -> None:
        self.connection = await amqp_nodes.connect(self.amqp_url)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        queue = await declare_order_commands(channel)
        await queue.consume(self.handle)
        self.consuming = True
        log.info("consuming %s", queue.name)

    async def handle(self, message: AbstractIncomingMessage) -> None:
        self.acks.received(message)
        try:
            body = json.loads(message.body)
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("type") == events.CANCEL_ORDER:
            await self.handle_cancel(message, body)
            return
        if isinstance(body, dict) and body.get("type") == events.PAY_BY_BANK_TRANSFER:
            await self.handle_transfer(message, body)
            return
        if isinstance(body, dict) and body.get("type") == events.PLACE_ORDERS:
            await self.handle_bundle(message, body)
            return
        try:
            if body is None:
                raise ValueError("not JSON")
            command = parse_command(body)
        except (InvalidCommand, ValueError) as exc:
            log.error("dead-lettering malformed command %s: %s", message.message_id, exc)
            sender = sender_of(body) if isinstance(exc, InvalidCommand) else None
            await self._give_up(message, sender, MALFORMED)
            return
        await self._place(message, [command])

    def settled(self, command: messages.PlaceOrder, outcome: Outcome) -> None:
        self.activity.count({"DUPLICATE": "redelivered (ignored)"}.get(outcome.status, outcome.status.lower()))
        for level in (outcome.event or {}).get("data", {}).get("stock", []):
            self.activity.note(level["ticket_id"], f"stock of {level['ticket_id']} is now {level['stock']}")
        log.debug("order %s consumed: %s %s", command.order_id[:8], outcome.status, outcome.reason or "")
        self.on_outcome(outcome)

    async def handle_bundle(self, message: AbstractIncomingMessage, body: dict) -> None:
        """Several place-order commands in one message (see above)."""
        try:
            listed = command_bundle.commands(body)
        except messages.InvalidMessage as exc:
            log.error("dead-lettering malformed bundle %s: %s", message.message_id, exc)
            await self.acks.reject(message)
            return
        commands: list[messages.PlaceOrder] = []
        malformed: list[tuple[str, str, str]] = []
        for item in listed:
            try:
                commands.append(parse_command(item))
            except InvalidCommand as exc:
                log.error("rejecting malformed command in bundle %s: %s", message.message_id, exc)
                sender = sender_of(item)
                if sender is not None:
                    malformed.append(sender)
        await self._place(message, commands, malformed)

    async def _place(self, message: AbstractIncomingMessage, commands: list[messages.PlaceOrder],
                     malformed: list[tuple[str, str, str]] | None = None) -> None:
        """Places the message's commands (one, or a bundle's) and settles the message: acknowledged once
        every command is settled (a redelivered one as a DUPLICATE); back to the queue if one failed; at
        the last delivery the orders still failing are REJECTED and the message dead-lettered. The
        malformed commands a bundle named are REJECTED meanwhile."""
        # queued before any await: the commands keep their place before those delivered after them
        placing = [self.placements.enqueue(command) for command in commands]
        for sender in malformed or ():
            await self._reject_order(sender, MALFORMED)
        results = await asyncio.gather(*placing, return_exceptions=True)
        failed = []
        for command, result in zip(commands, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                failed.append(command)
                log.error("order %s failed: %s", command.order_id, result, exc_info=result)
            else:
                self.settled(command, result)
        if not failed:
            self.acks.ack(message)
        elif deliveries(message) + 1 >= DELIVERY_LIMIT:  # the last delivery the queue allows
            log.error("%d of the %d commands of message %s failed at its last delivery; rejecting them",
                      len(failed), len(commands), message.message_id)
            for command in failed:
                await self._reject_order((command.order_id, command.username, command.email), FAILED)
            await self.acks.reject(message)
        else:
            log.error("%d of the %d commands of message %s failed; returning it to the queue", len(failed),
                      len(commands), message.message_id)
            await asyncio.sleep(self.retry_pause)
            await self.acks.nack(message, requeue=True)

    async def handle_cancel(self, message: AbstractIncomingMessage, body: dict) -> None:
        """An organiser's cancellation, or a buyer abandoning their unpaid order."""
        async def cancel(command: CancelOrder) -> None:
            outcome = await cancel_order(self.engine, command)
            if outcome.status == "CANCELLED":
                log.info("order %s cancelled: its stock is back on sale", command.order_id[:8])
                self.on_outcome(outcome)
            else:
                log.info("order %s is not confirmed here (or was cancelled before); cancellation ignored",
                         command.order_id[:8])
        await self._change_order(message, body, CancelOrder, cancel)

    async def handle_transfer(self, message: AbstractIncomingMessage, body: dict) -> None:
        """A buyer pays their card hold by bank transfer instead: the hold gets longer."""
        async def transfer(command: PayByBankTransfer) -> None:
            outcome = await pay_by_bank_transfer(self.engine, command)
            if outcome.status == "TRANSFER":
                self.on_outcome(outcome)
            else:
                log.info("order %s stays as it is: %s", command.order_id[:8], outcome.reason)
        await self._change_order(message, body, PayByBankTransfer, transfer)

    async def _change_order(self, message: AbstractIncomingMessage, body: dict, model: type[M],
                            apply: Callable[[M], Awaitable[None]]) -> None:
        """A command that changes one order: dead-lettered when malformed, retried (up to the delivery limit)
        when it fails, acknowledged after its transaction commits."""
        try:
            command = messages.parse(body, model)
        except messages.InvalidMessage as exc:
            log.error("dead-lettering malformed command %s: %s", message.message_id, exc)
            await self.acks.reject(message)
            return
        try:
            await apply(command)
        except Exception:
            if deliveries(message) + 1 >= DELIVERY_LIMIT:
                log.exception("%s of message %s failed at its last delivery", model.TYPE, message.message_id)
                await self.acks.reject(message)
                return
            log.exception("%s of message %s failed; returning it to the queue", model.TYPE, message.message_id)
            await asyncio.sleep(self.retry_pause)
            await self.acks.nack(message, requeue=True)
            return
        self.acks.ack(message)

    async def _give_up(self, message: AbstractIncomingMessage, sender: tuple[str, str, str] | None,
                       reason: str) -> None:
        """Dead-letters the command; its order, if it names one, is REJECTED with the reason first, so
        no buyer waits on a PENDING order forever."""
        if sender is not None:
            await self._reject_order(sender, reason)
        await self.acks.reject(message)

    async def _reject_order(self, sender: tuple[str, str, str], reason: str) -> None:
        """Records the order REJECTED with the reason (a no-op for an order already processed)."""
        try:
            outcome = await reject_unprocessable(self.engine, *sender, reason)
        except Exception:
            log.exception("cannot record the rejection of order %s", sender[0])
        else:
            if outcome.status == "REJECTED":
                self.on_outcome(outcome)

    async def close(self) -> None:
        await self.acks.drain()  # what was settled is acknowledged before the connection goes
        connection, self.connection = self.connection, None
        if connection:
            await connection.close()
