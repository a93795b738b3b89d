"""Each buyer's recent notifications, kept so that a page that reconnects gets what it missed, and so
that an event delivered twice (Kafka is at-least-once) is pushed once.

The hub reads the order events from the start of the topic when it starts, so a hub that was down
still knows what happened meanwhile; notifications older than HORIZON_HOURS are not kept.
"""
from __future__ import annotations

from collections import OrderedDict, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

PER_BUYER = 500
HORIZON_HOURS = 24


class NotificationHistory:
    def __init__(self, per_buyer: int = PER_BUYER, horizon: timedelta = timedelta(hours=HORIZON_HOURS)):
        self.per_buyer, self.horizon = per_buyer, horizon
        self._by_user: dict[str, OrderedDict[str, dict[str, Any]]] = defaultdict(OrderedDict)

    def add(self, username: str, note: dict[str, Any], now: datetime | None = None) -> bool:
        """Keeps the note; False if it was seen before (same id) or is too old to matter."""
        notes = self._by_user[username]
        if note["id"] in notes:
            return False
        now = now or datetime.now(UTC)
        try:
            if datetime.fromisoformat(note["time"].replace("Z", "+00:00")) < now - self.horizon:
                return False
        except (KeyError, ValueError):
            pass
        notes[note["id"]] = note
        while len(notes) > self.per_buyer:
            notes.popitem(last=False)
        return True

    def since(self, username: str, last_id: str | None) -> list[dict[str, Any]]:
        """What came after `last_id`; everything kept if that id is unknown (too old, or from before a
        restart of a hub that keeps nothing), and nothing for a page that has seen nothing yet."""
        if not last_id:
            return []
        notes = list(self._by_user.get(username, {}).values())
        ids = [note["id"] for note in notes]
        return notes[ids.index(last_id) + 1:] if last_id in ids else notes
