"""How the shop shows the festival and its dates."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any


def date_range(starts_on: str, ends_on: str) -> str:
    """"2027-07-16", "2027-07-18" -> "Fri 16 - Sun 18 July 2027" (each part only as long as needed)."""
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


def festival_view(details: dict[str, Any]) -> dict[str, Any]:
    venue, address = details.get("venue") or "", details.get("address") or ""
    place = address if address.startswith(venue) else ", ".join(p for p in (venue, address) if p)
    paragraphs = [p.strip() for p in (details.get("description") or "").split("\n") if p.strip()]
    return {"name": details.get("name") or "", "dates": date_range(details.get("starts_on") or "",
                                                                     details.get("ends_on") or ""),
            "place": place, "paragraphs": paragraphs, "banner_url": details.get("banner_url")}


def utc(iso: str | None) -> str:
    """A moment for people (the page's script shows it in the buyer's own time zone)."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%d %b %Y, %H:%M UTC")
