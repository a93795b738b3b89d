"""Moments shown to buyers: a <time> in UTC, which cart.js rewrites in the buyer's own time zone."""
from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape


def when(iso: str | None) -> Markup:
    if not iso:
        return Markup("")
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return Markup(escape(iso))
    return Markup('<time datetime="{}" data-local>{}</time>').format(
        moment.isoformat(timespec="seconds").replace("+00:00", "Z"), moment.strftime("%d %b %Y, %H:%M UTC"))


def festival_dates(starts_on: str, ends_on: str) -> str:
    """"2027-07-16", "2027-07-18" -> "16 - 18 July 2027"."""
    if not starts_on:
        return ""
    from datetime import date
    start = date.fromisoformat(starts_on)
    end = date.fromisoformat(ends_on) if ends_on else start
    if start == end:
        return f"{start.day} {start:%B %Y}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day} - {end.day} {end:%B %Y}"
    return f"{start.day} {start:%B} - {end.day} {end:%B %Y}"
