"""Reads the ticket catalog from the inventory service, which owns tickets and stock."""
from __future__ import annotations

import json

import httpx


class InventoryUnavailable(Exception):
    """The inventory service did not answer a call (a read of what is on sale, or an organiser's change):
    the caller answers 503 with the reason."""


class InventoryClient:
    def __init__(self, base_url: str, token: str = ""):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.AsyncClient(base_url=base_url, timeout=3.0, headers=headers)

    async def tickets(self, include_retired: bool = False) -> list[dict]:
        try:
            resp = await self.http.get("/internal/tickets", params={"include_retired": include_retired})
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise InventoryUnavailable(f"ticket catalog unavailable ({exc.__class__.__name__})") from exc
        return resp.json()

    async def festival(self) -> dict:
        try:
            resp = await self.http.get("/internal/festival")
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise InventoryUnavailable(f"festival details unavailable ({exc.__class__.__name__})") from exc
        return resp.json()

    async def call_raw(self, method: str, path: str, content: bytes = b"",
                       content_type: str = "application/octet-stream") -> httpx.Response:
        try:
            return await self.http.request(method, path, content=content, headers={"Content-Type": content_type})
        except httpx.HTTPError as exc:
            raise InventoryUnavailable(f"ticket catalog unavailable ({exc.__class__.__name__})") from exc

    async def call(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        try:
            # ASCII-escaped JSON: a lone surrogate in a name reaches the inventory, which refuses it with a reason
            content = None if body is None else json.dumps(body).encode()
            return await self.http.request(method, path, content=content,
                                           headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise InventoryUnavailable(f"ticket catalog unavailable ({exc.__class__.__name__})") from exc

    async def healthy(self) -> bool:
        try:
            return (await self.http.get("/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def close(self) -> None:
        await self.http.aclose()
