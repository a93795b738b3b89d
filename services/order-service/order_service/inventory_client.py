"""Reads the ticket catalog from the inventory service, which owns tickets and stock."""
from __future__ import annotations

import time

import httpx


class CatalogUnavailable(Exception):
    pass


class InventoryClient:
    def __init__(self, base_url: str, on_sale_ttl: float = 2.0):
        self.http = httpx.AsyncClient(base_url=base_url, timeout=3.0)
        self.on_sale_ttl = on_sale_ttl
        self._on_sale: dict[str, dict] = {}
        self._on_sale_at = float("-inf")

    async def on_sale(self, ticket_ids: list[str]) -> dict[str, dict]:
        """Those of these tickets that are on sale, by id. Checking every order over HTTP would cost the inventory a
        request per order during a drop, so the ids are kept for a moment and fetched again whenever an id
        is not among them. A ticket retired within that moment is still refused by the inventory itself."""
        fresh = time.monotonic() - self._on_sale_at < self.on_sale_ttl
        if not fresh or not set(ticket_ids) <= self._on_sale.keys():
            self._on_sale = {t["id"]: t for t in await self.tickets()}
            self._on_sale_at = time.monotonic()
        return {ticket_id: self._on_sale[ticket_id] for ticket_id in ticket_ids if ticket_id in self._on_sale}

    def forget_on_sale(self) -> None:
        """After a change to the catalog made through this service."""
        self._on_sale_at = float("-inf")

    async def tickets(self, include_retired: bool = False) -> list[dict]:
        try:
            resp = await self.http.get("/internal/tickets", params={"include_retired": include_retired})
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise CatalogUnavailable(f"ticket catalog unavailable ({exc.__class__.__name__})") from exc
        return resp.json()

    async def call(self, method: str, path: str, json: dict | None = None) -> httpx.Response:
        try:
            return await self.http.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise CatalogUnavailable(f"ticket catalog unavailable ({exc.__class__.__name__})") from exc

    async def healthy(self) -> bool:
        try:
            return (await self.http.get("/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def close(self) -> None:
        await self.http.aclose()
