"""The buyer's place pushed live: server-sent events on GET /api/queue/me/events, an event `standing`
(`{"state", "position", "ahead", "eta_seconds", "pass_expires"}`, never the pass itself: the page asks for it
when the state changes) whenever it changes, and at least every `HEARTBEAT` seconds.

Each instance keeps one snapshot of the room, published after each tick (RoomClock); a stream reads the buyer's
own row once, and again only when the room's row says it may have changed (the draw, their turn, a purchase), so
thousands of open streams cost the database one query a tick, not one each.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from waiting_room import room

HEARTBEAT = 4.0  # seconds: an event at least this often, changed or not
UNJOINED_LOOK = 5.0  # seconds: how often a stream of a buyer who has not joined looks whether they have


class RoomClock:
    """The room as the last tick left it, and a signal each time a tick publishes a new one."""

    def __init__(self) -> None:
        self.room: Any = None
        self.ticks = 0  # how many snapshots were published
        self._ticked = asyncio.Event()

    def publish(self, snapshot: Any) -> None:
        self.room, self.ticks = snapshot, self.ticks + 1
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


async def standings(engine: AsyncEngine, clock: RoomClock, username: str, secret: str,
                    capacity_per_second: float, heartbeat: float = HEARTBEAT) -> AsyncIterator[str]:
    """The stream of one buyer's standing (see above), until the buyer goes away."""
    seen = clock.ticks
    snapshot = clock.room if clock.room is not None else await room.load(engine)
    mine = await room.place_of(engine, username)
    looked, sent, sent_at = time.monotonic(), "", 0.0
    while True:
        now = time.monotonic()
        if row_may_have_changed(snapshot, mine) or (mine is None and now - looked >= UNJOINED_LOOK):
            mine, looked = await room.place_of(engine, username), now
        text = event(room.standing_of(snapshot, mine, username, secret, capacity_per_second))
        if text != sent or now - sent_at >= heartbeat:
            yield text
            sent, sent_at = text, now
        await clock.after(seen, heartbeat)
        seen = clock.ticks
        snapshot = clock.room if clock.room is not None else snapshot
