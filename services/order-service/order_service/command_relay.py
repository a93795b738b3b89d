"""Relays the command outbox to RabbitMQ: unsent rows in order, published with confirms, then marked sent.

At-least-once: a crash between the broker's confirm and the mark re-sends a command; the inventory
deduplicates on the order id. While the broker is away the relay waits with exponential backoff and
jitter, and says so once when the outage starts and once when it ends.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events
from festflow_runtime.backoff import Backoff
from festflow_runtime.relay_loop import relay_rows, run_relay
from order_service.db import command_outbox
from order_service.publisher import BrokerUnavailable

log = logging.getLogger("order_service.command_relay")


class Publisher(Protocol):
    async def publish(self, body: bytes, message_id: str, type_: str) -> None: ...


class CommandRelay:
    def __init__(self, engine: AsyncEngine, publisher: Publisher, batch: int = 500,
                 backoff_start: float = 0.2, backoff_max: float = 10.0, confirm_seconds: float = 30.0):
        """`confirm_seconds`: how long a batch waits for the broker's confirms before the relay backs off
        and sends what was not confirmed again. A lost connection fails at once; this is for a broker that
        takes messages but does not confirm them (a resource alarm). No request waits on the relay, so it
        is generous: under a drop's load the confirms of a big batch can take seconds, and a deadline
        missed then stalled the relay behind a backoff and sent the whole batch twice."""
        self.engine = engine
        self.publisher = publisher
        self.batch = batch
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
            sends = [asyncio.ensure_future(self.publisher.publish(row.payload.encode(), row.message_id, row.type))
                     for row in rows]
            done, late = await asyncio.wait(sends, timeout=self.confirm_seconds)  # one deadline for the batch
            for send in late:
                send.cancel()
            sent = [row for row, send in zip(rows, sends, strict=True) if send in done and send.exception() is None]
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

    async def run(self) -> None:
        await run_relay(self.relay_pending, self.wakeup, self.batch,
                        Backoff(log, "relaying order commands to RabbitMQ (they wait in the outbox)",
                                self.backoff_start, self.backoff_max))
