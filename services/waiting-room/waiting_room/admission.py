"""How many buyers the waiting room admits now: tied to what the sale can take and to what is left to sell.

- Never more buyers holding a live pass than tickets left (free stock): a buyer can always be sold to.
- No faster than the organiser's fixed rate (buyers a minute) or, by default, the sale's measured checkout
  capacity (buyers a second).
- Nothing left: no one is admitted, and everyone waiting is told it is sold out; stock that comes back (a hold
  expired, an order cancelled) admits again.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Queue:
    waiting: int  # buyers with a place not admitted yet
    live_passes: int  # admitted buyers whose pass has not run out nor been used
    tickets_left: int  # free stock of the ticket types on sale


def rate_per_second(per_minute: int | None, capacity_per_second: float) -> float:
    return per_minute / 60 if per_minute else capacity_per_second


def to_admit(queue: Queue, per_minute: int | None, capacity_per_second: float, seconds: float,
             carried: float = 0.0) -> tuple[int, float]:
    """(how many to admit now, the fraction of a buyer carried to the next tick) after `seconds` since the
    last tick; `carried` is the last tick's fraction, so a rate of 30 a minute admits one every two seconds."""
    if queue.tickets_left <= 0 or queue.waiting <= 0:
        return 0, 0.0
    allowed = rate_per_second(per_minute, capacity_per_second) * seconds + carried
    by_stock = max(0, queue.tickets_left - queue.live_passes)
    admitted = min(int(allowed), by_stock, queue.waiting)
    return admitted, (allowed - admitted if admitted == int(allowed) else 0.0)
