"""What is on sale, and the festival it is for, as the order service knows it without asking the
inventory for every order.

A snapshot of the inventory's ticket types over HTTP (at start-up, retried in the background until it
succeeds), kept current by the inventory's TICKET_CHANGED events on Kafka. A ticket's `version` rises
with every change, and the higher version wins, so the snapshot and the events may arrive in any order.
Checkout therefore keeps working while the inventory or Kafka is away. The inventory stays the last
word: a type retired a moment ago is still refused there, and the order is rejected with that reason.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from festflow_contracts import events, messages
from festflow_contracts.messages import FestivalChanged, TicketChanged
from festflow_runtime.backoff import Backoff
from order_service.inventory_client import InventoryUnavailable

log = logging.getLogger("order_service.catalog")


class TicketSource(Protocol):
    async def tickets(self, include_retired: bool = False) -> list[dict[str, Any]]: ...
    async def festival(self) -> dict[str, Any]: ...


TICKET_FIELDS = ("id", "name", "price_cents", "stock", "version", "active")
PRESENTATION = {"description": "", "sale_starts_at": None, "sale_ends_at": None, "per_buyer_limit": None}


class CatalogReadModel:
    def __init__(self, source: TicketSource, refresh_interval: float = 1.0):
        self.source = source
        self.refresh_interval = refresh_interval  # at most one snapshot a second for unknown ids
        self.tickets: dict[str, dict[str, Any]] = {}
        self.festival: dict[str, Any] | None = None
        self.loaded = False
        self._refreshed_at = float("-inf")

    def apply_ticket(self, ticket: dict[str, Any]) -> None:
        """A ticket type as the inventory reported it (snapshot, event, or an admin change's answer)."""
        current = self.tickets.get(ticket["id"])
        if current is None or int(ticket["version"]) >= int(current["version"]):
            self.tickets[ticket["id"]] = {**{key: ticket[key] for key in TICKET_FIELDS},
                                          **{key: ticket.get(key, default) for key, default in PRESENTATION.items()}}

    def apply_festival(self, details: dict[str, Any]) -> None:
        if self.festival is None or int(details["version"]) >= int(self.festival["version"]):
            self.festival = dict(details)

    async def apply(self, event: dict[str, Any]) -> None:
        """The Kafka handler for the catalog topic."""
        if events.current_type(event["type"]) == events.TICKET_TYPE_CHANGED:
            self.apply_ticket(messages.parse(event, TicketChanged).model_dump())
        elif event["type"] == events.FESTIVAL_CHANGED:
            self.apply_festival(messages.parse(event, FestivalChanged).model_dump())

    async def refresh(self) -> None:
        """Takes a snapshot from the inventory (raises InventoryUnavailable)."""
        self._refreshed_at = time.monotonic()
        for ticket in await self.source.tickets(include_retired=True):
            self.apply_ticket(ticket)
        self.apply_festival(await self.source.festival())
        self.loaded = True

    async def load_until_done(self) -> None:
        """At start-up: the first snapshot, retried with backoff while the inventory is away."""
        backoff = Backoff(log, "loading the ticket catalog from the inventory", start=0.5)
        while not self.loaded:
            try:
                await self.refresh()
            except InventoryUnavailable as exc:
                await backoff.failed(exc)
        backoff.succeeded()

    async def on_sale(self, ticket_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Those of these tickets that are on sale, by id. An id not known here may be a type made a
        moment ago through another instance: it triggers one snapshot (at most one a second)."""
        if not self.loaded:
            raise InventoryUnavailable("the ticket catalog is not loaded yet; try again in a moment")
        unknown = [t for t in ticket_ids if t not in self.tickets]
        if unknown and time.monotonic() - self._refreshed_at >= self.refresh_interval:
            try:
                await self.refresh()
            except InventoryUnavailable:
                pass  # what is known stays the answer
        return {t: self.tickets[t] for t in ticket_ids if t in self.tickets and self.tickets[t]["active"]}
