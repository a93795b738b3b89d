"""Logging in: the use case behind POST /api/auth/login.

- An unknown username costs the same bcrypt check as a known one (against a dummy hash), so the answer
  time does not tell which usernames exist.
- Failures are counted per username (known or not, for the same reason): after SLOW_AFTER failures
  every further wrong answer waits a second, and after LOCK_AFTER the account is locked for
  LOCK_SECONDS, even for the right password, with the time it opens again. A success clears the count.
- bcrypt runs on one thread of its own, with at most MAX_WAITING logins queued for it: a login flood
  gets "busy" answers and uses at most one core, so checkout keeps the other.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from order_service.db import login_failures, users
from order_service.security import check_password, hash_password


@dataclass(frozen=True)
class LoginPolicy:
    slow_after: int = 3
    lock_after: int = 10
    lock_seconds: int = 300
    slow_seconds: float = 1.0


class LoginRefused(Exception):
    status = 401


class AccountLocked(LoginRefused):
    status = 429

    def __init__(self, until: datetime):
        self.until = until
        super().__init__(f"too many failed logins for this account: it is locked until "
                         f"{until.strftime('%H:%M:%S')} UTC; try again then")


class LoginBusy(LoginRefused):
    status = 503


MAX_WAITING = 64
_bcrypt = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bcrypt")
_waiting = 0
_DUMMY_HASH = hash_password("festflow-dummy-password-for-unknown-users")


async def check_password_off_loop(password: str, password_hash: str) -> bool:
    global _waiting
    if _waiting >= MAX_WAITING:
        raise LoginBusy("login is busy right now; try again in a moment")
    _waiting += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_bcrypt, check_password, password, password_hash)
    finally:
        _waiting -= 1


async def hash_password_off_loop(password: str) -> str:
    """A new password's hash, on the same bcrypt thread (a sign-up flood queues like a login flood)."""
    global _waiting
    if _waiting >= MAX_WAITING:
        raise LoginBusy("the service is busy right now; try again in a moment")
    _waiting += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_bcrypt, hash_password, password)
    finally:
        _waiting -= 1


Check = Callable[[str, str], Awaitable[bool]]


def _now() -> datetime:
    return datetime.now(UTC)


async def authenticate(engine: AsyncEngine, username: str, password: str, policy: LoginPolicy = LoginPolicy(),
                       check: Check = check_password_off_loop,
                       clock: Callable[[], datetime] = _now) -> dict[str, Any]:
    """The user's row, or raises LoginRefused (wrong), AccountLocked (429) or LoginBusy (503)."""
    async with engine.connect() as conn:
        user = (await conn.execute(sa.select(users).where(users.c.username == username))).mappings().first()
        failed = (await conn.execute(sa.select(login_failures).where(login_failures.c.username == username))
                  ).mappings().first()
    now = clock()
    if failed and failed["locked_until"] and datetime.fromisoformat(failed["locked_until"]) > now:
        raise AccountLocked(datetime.fromisoformat(failed["locked_until"]))
    ok = await check(password, user["password_hash"] if user else _DUMMY_HASH)
    if ok and user is not None:
        if failed:
            async with engine.begin() as conn:
                await conn.execute(login_failures.delete().where(login_failures.c.username == username))
        return dict(user)
    failures = (failed["failures"] if failed else 0) + 1
    locked_until = now + timedelta(seconds=policy.lock_seconds) if failures >= policy.lock_after else None
    async with engine.begin() as conn:
        values = {"failures": 0 if locked_until else failures,
                  "locked_until": locked_until.isoformat() if locked_until else None, "updated_at": now.isoformat()}
        changed = await conn.execute(login_failures.update().where(login_failures.c.username == username)
                                     .values(**values))
        if not changed.rowcount:
            await conn.execute(login_failures.insert().values(username=username, **values))
    if locked_until:
        raise AccountLocked(locked_until)
    if failures > policy.slow_after:
        await asyncio.sleep(policy.slow_seconds)
    raise LoginRefused("wrong username or password")
