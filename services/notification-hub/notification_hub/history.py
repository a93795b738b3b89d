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
RESUME_MARGIN = timedelta(minutes=5)


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
        if len(notes) > self.per_buyer:
            # the oldest by event time goes, not by arrival: a replay of the topic after a restart
            # arrives partition by partition, and must not push out what a page is about to ask for
            oldest = min(notes.values(), key=lambda kept: kept.get("time") or "")
            del notes[oldest["id"]]
        return True

    def since(self, username: str, last_id: str | None, last_time: str | None = None) -> list[dict[str, Any]]:
        """What a page that last saw `last_id` (at event time `last_time`) may have missed: every note
        from RESUME_MARGIN before that moment on. Events from different partitions reach the hub in no
        fixed order (and in another order after a restart), so the page gets a little more than it
        missed and drops, by id, what it has shown already. Nothing for a page that has seen nothing."""
        mine = self._by_user.get(username, OrderedDict())
        notes = list(mine.values())
        known = mine.get(last_id or "")
        moment = _parse(known["time"]) if known else _parse(last_time)
        if moment is None:
            return [] if not last_id else notes  # an id the hub no longer knows, without its time: all kept
        cutoff = moment - RESUME_MARGIN
        return [note for note in notes if (_parse(note.get("time")) or cutoff) >= cutoff]


def _parse(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except (AttributeError, ValueError):
        return None
