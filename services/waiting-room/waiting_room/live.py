"""The buyer's place pushed live: server-sent events on GET /api/queue/me/events, an event `standing`
(`{"state", "position", "ahead", "eta_seconds", "pass_expires"}`, never the pass itself: the page asks for it
when the state changes) whenever it changes, and at least every `HEARTBEAT` seconds.

Each instance keeps one snapshot of the room, published after each tick (RoomClock); a stream reads the buyer's
own row once, and again only when the room's row says it may have changed (the draw, their turn, a purchase).
The streams' reads are gathered (PlaceReader): at the draw, or with thousands admitted, they cost the
database a few queries a tick, not one a buyer.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_runtime.batching import Batcher
from waiting_room import room

HEARTBEAT = 4.0  # seconds: an event at least this often, changed or not
UNJOINED_LOOK = 5.0  # seconds: how often a stream of a buyer who has not joined looks whether they have


# what in the room's row changes what a buyer is told: a snapshot that changes none of it wakes no stream
# (each hears it at its next heartbeat), so thousands of waiting buyers cost nothing between changes
TOLD = ("enabled", "starts_at", "drawn_at", "admitted_through", "sold_out_at", "per_minute", "version")


class RoomClock:
    """The room as the last tick left it, and a signal each time a tick publishes one that changes what a
    buyer is told (TOLD)."""

    def __init__(self) -> None:
        self.room: Any = None
        self.ticks = 0  # how many snapshots that changed something were published
        self._ticked = asyncio.Event()
        self._told: tuple | None = None

    def publish(self, snapshot: Any) -> None:
        told = None if snapshot is None else tuple(snapshot[field] for field in TOLD)
        self.room = snapshot
        if told == self._told and self.ticks:
            return
        self._told, self.ticks = told, self.ticks + 1
        ticked, self._ticked = self._ticked, asyncio.Event()
        ticked.set()

    async def after(self, seen: int, timeout: float) -> None:
        """Returns once a snapshot newer than the `seen`-th is published (at once if one was), or after
        `timeout` seconds."""
        if self.ticks != seen:
            return
        try:
            await asyncio.wait_for(self._ticked.wait(), timeout)
        except TimeoutError:
            pass


class PlaceReader:
    """Buyers' rows read for their streams, the reads asked at about the same moment gathered into one
    query (festflow_runtime.batching)."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self.batcher: Batcher[str, Any] = Batcher(self._batch, self._one, max_size=1000)

    async def place_of(self, username: str) -> Any:
        return await self.batcher.submit(username)

    async def _batch(self, usernames: Sequence[str]) -> list[Any]:
        return await room.places_of(self.engine, usernames)

    async def _one(self, username: str) -> Any:
        return await room.place_of(self.engine, username)


def row_may_have_changed(snapshot: Any, mine: Any) -> bool:
    """Whether the buyer's own row must be read again to say where they are now (not only the room's)."""
    if snapshot is None or mine is None:
        return False  # (a buyer not joined is looked for every UNJOINED_LOOK seconds)
    if mine["place"] is None:
        return snapshot["drawn_at"] is not None  # drawn meanwhile
    if mine["admitted_at"] is None:
        return mine["place"] <= snapshot["admitted_through"]  # their turn came
    return mine["bought_at"] is None  # admitted: bought since?


def event(standing: room.Standing) -> str:
    data = {key: value for key, value in asdict(standing).items() if key != "pass_token"}
    return f"event: standing\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def standings(engine: AsyncEngine, clock: RoomClock, reader: PlaceReader, username: str, secret: str,
                    capacity_per_second: float, heartbeat: float = HEARTBEAT) -> AsyncIterator[str]:
    """The stream of one buyer's standing (see above), until the buyer goes away."""
    seen = clock.ticks
    snapshot = clock.room if clock.room is not None else await room.load(engine)
    mine = await reader.place_of(username)
    looked, sent, sent_at = time.monotonic(), "", 0.0
    while True:
        now = time.monotonic()
        if row_may_have_changed(snapshot, mine) or (mine is None and now - looked >= UNJOINED_LOOK):
            mine, looked = await reader.place_of(username), now
        text = event(room.standing_of(snapshot, mine, username, secret, capacity_per_second))
        if text != sent or now - sent_at >= heartbeat:
            yield text
            sent, sent_at = text, now
        await clock.after(seen, heartbeat)
        seen = clock.ticks
        snapshot = clock.room if clock.room is not None else snapshot
