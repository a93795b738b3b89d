"""Logging in: the use case behind POST /api/auth/login.

- An unknown username costs the same bcrypt check as a known one (against a dummy hash), so the answer
  time does not tell which usernames exist.
- Failures are counted per username (known or not, for the same reason) and client address: after
  `slow_after` failures every further wrong answer waits a second, and after `lock_after` the account is
  locked *for that address* for `lock_seconds`, even for the right password, with the time it opens
  again. A login from another address is not held up by them: nobody can lock the organiser out from
  afar. A success clears its count.
- Failures from one address for any account are counted too: past `address_lock_after` (guessing
  across many accounts) the address is refused for every account for `lock_seconds`.
- Failures for one account from every address together are counted too: past `proof_after` (guessing
  from many addresses), even the right password gets no token but `ProofNeeded`: the route mails the
  owner a one-time login link (registration.request_login_link), which an attacker cannot replay. A
  login by that link, a password reset or an hour without failures starts the count again.
- Every lock is logged with its address (the organiser's live log); the organiser lists and lifts locks
  (`locks`, `lift_locks`), and a password reset lifts the account's.
- bcrypt runs on one thread of its own, with at most MAX_WAITING logins queued for it: a login flood
  gets "busy" answers and uses at most one core, so checkout keeps the other.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from order_service.db import login_failures, users
from order_service.security import check_password, hash_password


@dataclass(frozen=True)
class LoginPolicy:
    slow_after: int = 3
    lock_after: int = 10  # failures for one account from one address
    lock_seconds: int = 300
    slow_seconds: float = 1.0
    address_lock_after: int = 50  # failures from one address for any account
    proof_after: int = 30  # failures for one account from every address together: then a mailed link
    proof_window_seconds: int = 3600  # the account-wide count starts again after this long without a failure


ANY_ACCOUNT = "*"  # the username of an address's count for every account
ANY_ADDRESS = "*"  # the address of an account's count from every address
log = logging.getLogger("order_service.login")


class LoginRefused(Exception):
    status = 401


class AccountLocked(LoginRefused):
    status = 429

    def __init__(self, until: datetime, whole_address: bool = False):
        self.until = until
        what = "from your address" if whole_address else "for this account from your address"
        super().__init__(f"too many failed logins {what}: it is locked until "
                         f"{until.strftime('%H:%M:%S')} UTC; try again then, or log in from another device")


class ProofNeeded(LoginRefused):
    """The password was right, but the account is being guessed at from many addresses: its owner logs
    in with a one-time link mailed to the account's address."""
    status = 403

    def __init__(self, user: dict[str, Any]):
        self.user = user
        super().__init__("this account has seen many wrong passwords lately, so we mailed a one-time login "
                         "link to its email address: open it to log in")


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
                       clock: Callable[[], datetime] = _now, address: str = "") -> dict[str, Any]:
    """The user's row, or raises LoginRefused (wrong), AccountLocked (429) or LoginBusy (503). `address` is
    the client's (festflow_runtime.client_address)."""
    async with engine.connect() as conn:
        user = (await conn.execute(sa.select(users).where(users.c.username == username))).mappings().first()
        found = {(row["username"], row["address"]): row for row in (await conn.execute(
            sa.select(login_failures).where(sa.or_(
                sa.and_(login_failures.c.address == address, login_failures.c.username.in_([username, ANY_ACCOUNT])),
                sa.and_(login_failures.c.username == username, login_failures.c.address == ANY_ADDRESS))))
        ).mappings()}
    now = clock()
    account_row = found.get((username, ANY_ADDRESS))
    account_wide = 0 if account_row is None or datetime.fromisoformat(account_row["updated_at"]) < \
        now - timedelta(seconds=policy.proof_window_seconds) else int(account_row["failures"])
    counts = {name: row for (name, at), row in found.items() if at == address}
    for key in (ANY_ACCOUNT, username):
        row = counts.get(key)
        if row and row["locked_until"] and datetime.fromisoformat(row["locked_until"]) > now:
            raise AccountLocked(datetime.fromisoformat(row["locked_until"]), whole_address=key == ANY_ACCOUNT)
    ok = await check(password, user["password_hash"] if user else _DUMMY_HASH)
    if ok and user is not None:
        if account_wide >= policy.proof_after:
            raise ProofNeeded(dict(user))
        if username in counts or account_row is not None:
            async with engine.begin() as conn:
                await conn.execute(login_failures.delete().where(
                    login_failures.c.username == username, login_failures.c.address.in_([address, ANY_ADDRESS])))
        return dict(user)
    # a lock that ran out left its count at zero: counting starts again
    failures = (counts[username]["failures"] if username in counts else 0) + 1
    everywhere = (counts[ANY_ACCOUNT]["failures"] if ANY_ACCOUNT in counts else 0) + 1
    lock_until = now + timedelta(seconds=policy.lock_seconds)
    locked = failures >= policy.lock_after
    address_locked = everywhere >= policy.address_lock_after
    async with engine.begin() as conn:
        await _count(conn, username, address, 0 if locked else failures, lock_until if locked else None, now)
        await _count(conn, ANY_ACCOUNT, address, 0 if address_locked else everywhere,
                     lock_until if address_locked else None, now)
        await _count(conn, username, ANY_ADDRESS, account_wide + 1, None, now)
    if account_wide + 1 == policy.proof_after:
        log.warning("account %s has seen %d wrong passwords from several addresses: its logins need a mailed "
                    "link now", username[:64], account_wide + 1)
    if address_locked:
        log.warning("login locked from address %s for every account until %s (%d failures)",
                    address or "?", lock_until.strftime("%H:%M:%S"), everywhere)
        raise AccountLocked(lock_until, whole_address=True)
    if locked:
        log.warning("login locked for account %s from address %s until %s (%d failures)",
                    username[:64], address or "?", lock_until.strftime("%H:%M:%S"), failures)
        raise AccountLocked(lock_until)
    if failures > policy.slow_after:
        await asyncio.sleep(policy.slow_seconds)
    raise LoginRefused("wrong username or password")


async def _count(conn: AsyncConnection, username: str, address: str, failures: int, locked_until: datetime | None,
                 now: datetime) -> None:
    values = {"failures": failures, "locked_until": locked_until.isoformat() if locked_until else None,
              "updated_at": now.isoformat()}
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(login_failures)
    await conn.execute(insert.values(username=username, address=address, **values)
                       .on_conflict_do_update(index_elements=["username", "address"], set_=values))


async def locks(engine: AsyncEngine, clock: Callable[[], datetime] = _now) -> list[dict[str, Any]]:
    """The locks in force: username ("*" for every account), address, until when, newest first."""
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(login_failures)
                                   .where(login_failures.c.locked_until > clock().isoformat())
                                   .order_by(login_failures.c.locked_until.desc()))).mappings().all()
    return [{"username": r["username"], "address": r["address"], "locked_until": r["locked_until"]} for r in rows]


async def lift_locks(conn: AsyncConnection, username: str, address: str | None = None) -> int:
    """Lifts the account's locks and counts (from one address, or from all): how many there were."""
    query = login_failures.delete().where(login_failures.c.username == username)
    if address is not None:
        query = query.where(login_failures.c.address == address)
    return (await conn.execute(query)).rowcount or 0
