"""Accounts created by an organiser in bulk (for a pre-registered audience, staff, or a benchmark's
buyers): `create_accounts` hashes each password (bcrypt, off the event loop) and skips names taken.

An account may come with a bcrypt `password_hash` instead of a password: accounts imported from another
system keep their passwords without anyone knowing them, and 10,000 imported buyers cost no bcrypt work
here."""
from __future__ import annotations

import asyncio
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_runtime.text import plain_text
from order_service.db import users
from order_service.security import hash_password

MAX_BATCH = 1000
BCRYPT_HASH = r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$"


class NewAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{2,63}$",
                          description="3-64 characters: lower-case letters, digits, . _ -")
    email: str = Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}$", max_length=200)
    password: str | None = Field(default=None, min_length=8, max_length=200)
    password_hash: str | None = Field(default=None, pattern=BCRYPT_HASH,
                                      description="a bcrypt hash ($2a$/$2b$/$2y$) instead of `password`")
    role: Literal["client", "admin", "staff"] = "client"  # staff: gate staff, who check tickets in

    @field_validator("email", "password")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else plain_text(value)

    @model_validator(mode="after")
    def _one_secret(self) -> NewAccount:
        if (self.password is None) == (self.password_hash is None):
            raise ValueError("give either a password or a password_hash, not both")
        return self


class NewAccounts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: list[NewAccount] = Field(min_length=1, max_length=MAX_BATCH)



async def create_accounts(engine: AsyncEngine, accounts: list[NewAccount]) -> dict[str, list[str]]:
    """{"created": [...], "existing": [...]}: names already taken (or twice in the batch) are skipped."""
    names = [a.username for a in accounts]
    async with engine.connect() as conn:
        taken = set((await conn.execute(sa.select(users.c.username).where(users.c.username.in_(names)))).scalars())
    fresh, skipped, seen = [], [], set()
    for account in accounts:
        if account.username in taken or account.username in seen:
            skipped.append(account.username)
        else:
            seen.add(account.username)
            fresh.append(account)
    hashes = await asyncio.to_thread(
        lambda: [a.password_hash if a.password is None else hash_password(a.password) for a in fresh])
    if fresh:
        async with engine.begin() as conn:
            await conn.execute(users.insert(), [
                {"username": a.username, "email": a.email, "role": a.role, "password_hash": h}
                for a, h in zip(fresh, hashes, strict=True)])
    return {"created": [a.username for a in fresh], "existing": skipped}
