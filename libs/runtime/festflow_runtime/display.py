"""How FestFlow shows dates, moments, places and money to people, the same on every page and in every mail.

Moments are stored and sent in UTC; a page shows them in UTC inside a `<time datetime=... data-local>`
that the page's script rewrites in the buyer's own time zone (`when`); a mail says UTC (`moment`).
"""
from __future__ import annotations

from datetime import UTC, date, datetime

from markupsafe import Markup, escape

from festflow_contracts.money import euros


def _parsed(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)


def moment(iso: str | None) -> str:
    """"2027-03-01T10:00:00Z" -> "01 Mar 2027, 10:00 UTC" (text it cannot read is shown as it is)."""
    if not iso:
        return ""
    try:
        return _parsed(iso).strftime("%d %b %Y, %H:%M UTC")
    except ValueError:
        return iso


def when(iso: str | None) -> Markup:
    """A moment for a page: `moment` inside a <time> that the page's script shows in the buyer's time zone."""
    if not iso:
        return Markup("")
    try:
        instant = _parsed(iso)
    except ValueError:
        return Markup(escape(iso))
    return Markup('<time datetime="{}" data-local>{}</time>').format(
        instant.isoformat(timespec="seconds").replace("+00:00", "Z"), moment(iso))


def time_left(iso: str | None, now: datetime | None = None) -> str:
    """How long until a deadline, as a countdown shows it: "4 days 23 h left", "2 h 5 min left",
    "14 min 09 s left", or "time is up" (a page's script counts it down each second)."""
    if not iso:
        return ""
    try:
        seconds = int((_parsed(iso) - (now or datetime.now(UTC))).total_seconds())
    except ValueError:
        return ""
    if seconds <= 0:
        return "time is up"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h left"
    if hours:
        return f"{hours} h {minutes} min left"
    return f"{minutes} min {seconds:02d} s left"


def date_range(starts_on: str | None, ends_on: str | None = None) -> str:
    """A festival's dates: "2027-07-16", "2027-07-18" -> "Fri 16 - Sun 18 July 2027" (each part only as long
    as needed: "Fri 30 July - Sun 1 August 2027", "Fri 31 December 2027 - Sun 2 January 2028")."""
    if not starts_on:
        return ""
    start = date.fromisoformat(starts_on)
    end = date.fromisoformat(ends_on) if ends_on else start
    if end == start:
        return f"{start:%a} {start.day} {start:%B %Y}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start:%a} {start.day} - {end:%a} {end.day} {end:%B %Y}"
    if start.year == end.year:
        return f"{start:%a} {start.day} {start:%B} - {end:%a} {end.day} {end:%B %Y}"
    return f"{start:%a} {start.day} {start:%B %Y} - {end:%a} {end.day} {end:%B %Y}"


def place(venue: str | None, address: str | None) -> str:
    """The venue and its address, without saying the venue twice ("Riverside Park, 1 Festival Way" names it)."""
    venue, address = venue or "", address or ""
    if venue and address.startswith(venue):
        return address
    return ", ".join(part for part in (venue, address) if part)


def money(cents: int | None) -> str:
    """8900 -> "€89.00"; nothing for no amount."""
    return "" if cents is None else euros(cents)
