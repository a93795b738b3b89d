"""What is left to sell, as the order service's public catalog says (GET /api/tickets): the free stock of the
room's ticket types (every type, when it names none) whose sale has not ended. Read each tick; None when it
cannot be read (nobody is admitted then)."""
from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx

log = logging.getLogger("waiting_room.stock")


class CatalogStock:
    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    async def tickets_left(self, ticket_ids: Sequence[str] = ()) -> int | None:
        try:
            resp = await self.client.get("/api/tickets")
            resp.raise_for_status()
            return sum(int(t["stock"]) for t in resp.json() if t.get("sale_state") != "ended"
                       and (not ticket_ids or t["id"] in ticket_ids))
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("cannot read the stock (%r): nobody is admitted until it can be read", exc)
            return None
