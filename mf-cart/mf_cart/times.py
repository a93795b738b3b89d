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
