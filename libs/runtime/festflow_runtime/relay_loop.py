"""The loop every outbox relay runs: send a batch, mark it, and go on at once while batches come full;
otherwise wait for a wake-up (a new row was committed) or one second. A failed batch waits with
backoff (see Backoff) and is tried again; nothing is skipped."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

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
