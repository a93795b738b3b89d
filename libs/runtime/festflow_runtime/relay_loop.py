"""The loop every outbox relay runs: send a batch, mark it, and go on at once while batches come full;
otherwise wait for a wake-up (a new row was committed) or one second. A failed batch waits with
backoff (see Backoff) and is tried again; nothing is skipped."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_runtime.backoff import Backoff


async def run_relay(send_batch: Callable[[], Awaitable[int]], wakeup: asyncio.Event, batch: int,
                    backoff: Backoff, poll_seconds: float = 1.0) -> None:
    while True:
        wakeup.clear()  # before reading: a notify during the batch wakes the next wait at once
        try:
            sent = await send_batch()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await backoff.failed(exc)
            continue
        backoff.succeeded()
        if sent == batch:
            continue
        try:
            await asyncio.wait_for(wakeup.wait(), timeout=poll_seconds)
        except TimeoutError:
            pass


Row = Any
Publish = Callable[[Sequence[Row]], Awaitable[tuple[Sequence[Row], Exception | None]]]
Mark = Callable[[AsyncConnection, Sequence[Row]], Awaitable[None]]


async def relay_rows(engine: AsyncEngine, unsent: Select[Any], publish: Publish, mark: Mark) -> int:
    """One batch of an outbox: read the unsent rows, publish them, mark those the broker took; raises what
    stopped the rest (after marking what was taken). Returns how many were taken.

    On PostgreSQL the rows are claimed (FOR UPDATE SKIP LOCKED) in the transaction that marks them, so
    several instances of a service relay each row once, side by side. SQLite serves one instance, which
    reads, publishes and then marks, without holding its only connection while the broker answers."""
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            rows = (await conn.execute(unsent.with_for_update(skip_locked=True))).all()
            if not rows:
                return 0
            taken, failure = await publish(rows)
            if taken:
                await mark(conn, taken)
    else:
        async with engine.connect() as conn:
            rows = (await conn.execute(unsent)).all()
        if not rows:
            return 0
        taken, failure = await publish(rows)
        if taken:
            async with engine.begin() as conn:
                await mark(conn, taken)
    if failure is not None:
        raise failure
    return len(taken)
