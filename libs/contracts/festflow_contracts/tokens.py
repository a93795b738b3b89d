"""JWT verification (RS256) shared by every service. Only the order service holds the private key.

Keys come from `JWT_PUBLIC_KEY` (PEM text) or `JWT_PUBLIC_KEY_FILE` (a path).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from jose import JWTError, jwt

ALGORITHM = "RS256"
ISSUER = "festflow-order-service"
AUDIENCE = "festflow"
COOKIE_NAME = "festflow_token"
ROLES = ("admin", "client")


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not signed by FestFlow."""


@dataclass(frozen=True)
class Identity:
    username: str
    role: str
    email: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def load_key(env_name: str) -> str:
    """PEM text from ENV_NAME or from the file named by ENV_NAME_FILE."""
    text = os.environ.get(env_name)
    if text:
        return text
    path = os.environ.get(f"{env_name}_FILE")
    if path:
        return Path(path).read_text()
    raise RuntimeError(f"set {env_name} or {env_name}_FILE")


class TokenVerifier:
    def __init__(self, public_key_pem: str):
        self._key = public_key_pem

    @classmethod
    def from_env(cls) -> TokenVerifier:
        return cls(load_key("JWT_PUBLIC_KEY"))

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise InvalidToken("no token")
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                options={"require_exp": True, "require_sub": True},
            )
        except JWTError as exc:
            raise InvalidToken(str(exc)) from exc
        role = claims.get("role")
        if role not in ROLES:
            raise InvalidToken("unknown role")
        return Identity(username=claims["sub"], role=role, email=claims.get("email", ""))

    def identify(self, token: str | None) -> Identity | None:
        """The caller's identity, or None for an anonymous visitor (no or invalid token)."""
        try:
            return self.verify(token)
        except InvalidToken:
            return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
