"""Whether a buyer's account is verified (its email address confirmed), as the order service that keeps the
accounts says (GET /api/auth/me, with the buyer's own token): only a verified account takes a place, so one
buyer with many throwaway accounts gets no more places than one."""
from __future__ import annotations

import asyncio
from typing import Protocol

import httpx


class AccountsUnavailable(Exception):
    pass


class Accounts(Protocol):
    async def verified(self, authorization: str) -> bool:
        """Whether the account of this bearer token has confirmed its address (AccountsUnavailable if unknown)."""


class OrderServiceAccounts:
    """Asks the order service; an account once verified stays verified, so the answer is remembered by the
    token (at most `remember` of them): a buyer's second join, or a reload, asks nothing. At most `at_once`
    questions are open together, the others wait their turn: a drop's joins asked all at once cost the HTTP
    client's pool more CPU for each than the answers themselves (measured: bench/waiting_room_live_bench.py)."""

    def __init__(self, client: httpx.AsyncClient, remember: int = 50_000, at_once: int = 8):
        self.client = client
        self.remember = remember
        self._verified: set[str] = set()
        self._turns = asyncio.Semaphore(at_once)

    async def verified(self, authorization: str) -> bool:
        if authorization in self._verified:
            return True
        try:
            async with self._turns:
                resp = await self.client.get("/api/auth/me", headers={"Authorization": authorization})
        except httpx.HTTPError as exc:
            raise AccountsUnavailable(f"the accounts cannot be asked right now ({exc.__class__.__name__})") from exc
        if resp.status_code != 200:
            raise AccountsUnavailable(f"the accounts answered {resp.status_code}")
        verified = bool(resp.json().get("email_verified"))
        if verified:
            if len(self._verified) >= self.remember:
                self._verified.clear()
            self._verified.add(authorization)
        return verified
