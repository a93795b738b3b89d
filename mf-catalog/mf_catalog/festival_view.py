"""How the shop shows the festival."""
from __future__ import annotations

from typing import Any

from festflow_runtime import display


def festival_view(details: dict[str, Any]) -> dict[str, Any]:
    paragraphs = [p.strip() for p in (details.get("description") or "").split("\n") if p.strip()]
    return {"name": details.get("name") or "", "dates": display.date_range(details.get("starts_on"),
                                                                           details.get("ends_on")),
            "place": display.place(details.get("venue"), details.get("address")), "paragraphs": paragraphs,
            "banner_url": details.get("banner_url"), "waiting_room": details.get("waiting_room")}
