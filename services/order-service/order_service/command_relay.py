"""Relays the command outbox to RabbitMQ: unsent rows in order, published with confirms, then marked sent.

At-least-once: a crash between the broker's confirm and the mark re-sends a command; the inventory
deduplicates on the order id. Place-order commands that follow each other in the outbox travel together,
up to `commands_per_message` to a message (festflow_contracts.command_bundle): the broker's and the
consumer's costs are per message. A cancellation travels alone, in its place. While the broker is away
the relay waits with exponential backoff and jitter, and says so once when the outage starts and once
when it ends.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import command_bundle, events
from festflow_runtime.backoff import Backoff
from festflow_runtime.relay_loop import relay_rows, run_relay
from order_service.db import command_outbox
from order_service.ordering import SOURCE
from order_service.publisher import BrokerUnavailable

log = logging.getLogger("order_service.command_relay")


class Publisher(Protocol):
    async def publish(self, body: bytes, message_id: str, type_: str) -> None: ...


class CommandRelay:
    def __init__(self, engine: AsyncEngine, publisher: Publisher, batch: int = 500,
                 backoff_start: float = 0.2, backoff_max: float = 10.0, confirm_seconds: float = 30.0,
                 commands_per_message: int = 50):
        """`confirm_seconds`: how long a batch waits for the broker's confirms before the relay backs off
        and sends what was not confirmed again. A lost connection fails at once; this is for a broker that
        takes messages but does not confirm them (a resource alarm). No request waits on the relay, so it
        is generous: under a drop's load the confirms of a big batch can take seconds, and a deadline
        missed then stalled the relay behind a backoff and sent the whole batch twice."""
        self.engine = engine
        self.publisher = publisher
        self.batch = batch
        self.commands_per_message = commands_per_message
        self.confirm_seconds = confirm_seconds
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.wakeup = asyncio.Event()

    def notify(self) -> None:
        """A new command was committed: relay it now rather than at the next poll."""
        self.wakeup.set()

    async def relay_pending(self) -> int:
        """Sends one batch of unsent commands; returns how many were sent. Raises if the broker failed
        (the commands it did confirm are marked sent first)."""
        async def publish(rows: Sequence[Any]) -> tuple[Sequence[Any], Exception | None]:
            groups = self.messages(rows)
            sends = [asyncio.ensure_future(self.send(group)) for group in groups]
            done, late = await asyncio.wait(sends, timeout=self.confirm_seconds)  # one deadline for the batch
            for send in late:
                send.cancel()
            sent = [row for group, send in zip(groups, sends, strict=True)
                    if send in done and send.exception() is None for row in group]
            failure: Exception | None = None
            if len(sent) < len(rows):
                first = next((send.exception() for send in sends if send in done and send.exception()), None)
                failure = first if isinstance(first, Exception) else BrokerUnavailable(
                    f"the broker did not confirm {len(rows) - len(sent)} commands within {self.confirm_seconds:g} s")
            return sent, failure

        async def mark(conn: AsyncConnection, sent: Sequence[Any]) -> None:
            # the outbox row is the one record of a command's sending (the order row once kept a copy,
            # which nothing read: a second statement for every batch)
            await conn.execute(command_outbox.update().where(command_outbox.c.seq.in_([row.seq for row in sent]))
                               .values(sent_at=events.now_iso()))

        return await relay_rows(self.engine, sa.select(command_outbox.c.seq, command_outbox.c.message_id,
                                                       command_outbox.c.type, command_outbox.c.payload)
                                .where(command_outbox.c.sent_at.is_(None)).order_by(command_outbox.c.seq)
                                .limit(self.batch), publish, mark)

    def messages(self, rows: Sequence[Any]) -> list[list[Any]]:
        """The rows in the messages they travel in, in their order: place-order commands that follow each
        other together (at most `commands_per_message`), any other command alone."""
        groups: list[list[Any]] = []
        for row in rows:
            last = groups[-1] if groups else None
            if (row.type == events.PLACE_ORDER and last is not None and last[0].type == events.PLACE_ORDER
                    and len(last) < self.commands_per_message):
                last.append(row)
            else:
                groups.append([row])
        return groups

    async def send(self, group: Sequence[Any]) -> None:
        """One message: a lone command as it is, several place-order commands as one bundle."""
        if len(group) == 1:
            await self.publisher.publish(group[0].payload.encode(), group[0].message_id, group[0].type)
            return
        await self.publisher.publish(command_bundle.pack([row.payload for row in group], SOURCE),
                                     f"{group[0].message_id}+{len(group) - 1}", events.PLACE_ORDERS)

    async def run(self) -> None:
        await run_relay(self.relay_pending, self.wakeup, self.batch,
                        Backoff(log, "relaying order commands to RabbitMQ (they wait in the outbox)",
                                self.backoff_start, self.backoff_max))
