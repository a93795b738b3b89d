"""What a ticket type's sale window (TicketChanged `sale_starts_at`, `sale_ends_at`: ISO 8601 in UTC, or
None for no bound) means, read the same by everyone who shows or checks it."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

State = Literal["upcoming", "open", "ended"]


def moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def state(starts: str | None, ends: str | None, now: datetime) -> State:
    if starts and now < moment(starts):
        return "upcoming"
    if ends and now >= moment(ends):
        return "ended"
    return "open"


def problem(name: str, starts: str | None, ends: str | None, now: datetime) -> str | None:
    """Why `name` cannot be sold at `now`, or None."""
    found = state(starts, ends, now)
    if found == "upcoming" and starts:
        return f"sales for {name} open at {moment(starts).strftime('%d %b %Y %H:%M')} UTC"
    if found == "ended" and ends:
        return f"sales for {name} ended at {moment(ends).strftime('%d %b %Y %H:%M')} UTC"
    return None
