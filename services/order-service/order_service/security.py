"""Passwords (bcrypt) and token issuing (RS256). Verification lives in festflow_contracts.tokens."""
from __future__ import annotations

import time
import uuid

import bcrypt
import sqlalchemy as sa
from jose import jwk, jwt
from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts.tokens import ALGORITHM, AUDIENCE, ISSUER, Identity, TokenVerifier
from festflow_runtime import database
from order_service.db import users

DEMO_USERS = [
    {"username": "admin", "password": "admin123", "role": "admin", "email": "admin@festflow.local"},
    {"username": "guest", "password": "festflow", "role": "client", "email": "guest@festflow.local"},
]


def _secret(password: str) -> bytes:
    """What bcrypt sees: at most its 72 bytes (bcrypt 5 refuses more), any text encodable."""
    return password.encode("utf-8", "surrogatepass")[:72]


def hash_password(password: str) -> str:
    return bcrypt.hashpw(_secret(password), bcrypt.gensalt(rounds=10)).decode()


def check_password(password: str, password_hash: str) -> bool:
    return bcrypt.checkpw(_secret(password), password_hash.encode())


class TokenIssuer:
    def __init__(self, private_key_pem: str, ttl_seconds: int, verifier: TokenVerifier | None = None):
        """`verifier`: this process's own verifier, told of every token issued here (TokenVerifier.remember)
        so that it need not check their signatures: a drop's buyers log in before the sale opens."""
        self._key = jwk.construct(private_key_pem, ALGORITHM)  # parsed once: parsing an RSA key costs ~40 ms
        self.ttl_seconds = ttl_seconds
        self.verifier = verifier

    def issue(self, username: str, role: str, email: str, email_verified: bool = False) -> str:
        # iat to the millisecond (a NumericDate may be fractional): a session ended at a moment refuses
        # the tokens issued before it, not a login a moment after it in the same second
        issued_at = round(time.time(), 3)
        expires = int(issued_at) + self.ttl_seconds
        jti = uuid.uuid4().hex
        claims = {"sub": username, "role": role, "email": email, "iss": ISSUER, "aud": AUDIENCE,
                  "iat": issued_at, "exp": expires, "jti": jti, "email_verified": email_verified}
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
        if self.verifier is not None:
            self.verifier.remember(token, Identity(username, role, email, jti, expires, issued_at, email_verified))
        return token


async def seed_demo_users(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await database.startup_lock(conn)
        existing = set((await conn.execute(sa.select(users.c.username))).scalars())
        for user in DEMO_USERS:
            if user["username"] not in existing:
                await conn.execute(users.insert().values(
                    username=user["username"], password_hash=hash_password(user["password"]),
                    role=user["role"], email=user["email"]))
