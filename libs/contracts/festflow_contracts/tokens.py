"""JWT verification (RS256) shared by every service. Only the order service holds the private key.

Each app reads the public key in its settings (JWT_PUBLIC_KEY or JWT_PUBLIC_KEY_FILE) and hands it here.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

from jose import JWTError, jwk, jwt

ALGORITHM = "RS256"
ISSUER = "festflow-order-service"
AUDIENCE = "festflow"
COOKIE_NAME = "festflow_token"
ROLES = ("admin", "client", "staff")  # staff: gate staff, who check tickets in
ENDED_SESSIONS_KEPT = 86_400  # seconds; tokens must not live longer (JWT_TTL_SECONDS)


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not signed by FestFlow."""


@dataclass(frozen=True)
class Identity:
    username: str
    role: str
    email: str
    token_id: str = ""  # the token's jti, what a logout revokes
    expires: int = 0
    issued_at: float = 0.0  # the token's iat: what ending an account's sessions compares with
    # the claim email_verified (OpenID Connect's name): the address was confirmed when the token was issued
    # (an account once verified stays so; False may be out of date: ask the order service, GET /api/auth/me)
    email_verified: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class TokenVerifier:
    """Verifies tokens. A token whose signature was checked once is remembered (by its exact text, so a
    changed token is checked anew): its expiry and revocation are still checked on every use, but not the
    RSA signature again, which was most of the cost of a drop's checkout after the lane's own work. The
    app that issues tokens remembers each one it signs (`remember`): in a drop the buyers log in before
    the sale opens, and their first checkout then skips the signature check too."""

    def __init__(self, public_key_pem: str, remember: int = 20_000):
        self._key = jwk.construct(public_key_pem, ALGORITHM)  # parsed once: parsing costs more than verifying
        self._revoked: dict[str, int] = {}  # jti -> exp: logged-out tokens, until they would expire anyway
        self._ended: dict[str, float] = {}  # username -> its tokens issued at or before this time are refused
        self._verified: dict[str, Identity] = {}  # token -> who it names (at most `remember`)
        self._remember = remember

    def revoke(self, jti: str, exp: int) -> None:
        """From now on the token with this id is refused (a logout, heard from the order service)."""
        now = int(time.time())
        if exp > now:
            self._revoked[jti] = exp
        if len(self._revoked) > 1000:
            self._revoked = {j: e for j, e in self._revoked.items() if e > now}

    def end_sessions(self, username: str, before: float) -> None:
        """From now on every token of this account issued at or before `before` is refused (its password
        was reset, or its owner logged out everywhere). Kept for a day, the longest a token may live."""
        self._ended[username] = max(before, self._ended.get(username, 0.0))
        if len(self._ended) > 1000:
            oldest = time.time() - ENDED_SESSIONS_KEPT
            self._ended = {name: at for name, at in self._ended.items() if at > oldest}

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise InvalidToken("no token")
        known = self._verified.get(token)
        if known is not None and known.expires > time.time():
            self._refuse_ended(known)
            return known
        identity = self._check(token)
        self._refuse_ended(identity)
        self.remember(token, identity)
        return identity

    def _refuse_ended(self, identity: Identity) -> None:
        if identity.token_id in self._revoked:
            raise InvalidToken("token was revoked (logged out)")
        ended = self._ended.get(identity.username)
        if ended is not None and identity.issued_at <= ended:
            raise InvalidToken("this session has ended (the password was changed, or every session was ended); "
                               "log in again")

    def remember(self, token: str, identity: Identity) -> None:
        """Takes `token` as genuine for `identity` without checking its signature: for a token this process
        signed itself, or one it has just checked. Its expiry and revocation are still checked at each use.
        When `remember` tokens are kept, the oldest quarter is forgotten: the buyers who just logged in for a
        drop stay known (forgetting all at once made most of a drop's first checkouts check signatures
        again once the buyers logged in before it outnumbered `remember`)."""
        if len(self._verified) >= self._remember:
            for oldest in list(itertools.islice(self._verified, max(1, self._remember // 4))):
                del self._verified[oldest]
        self._verified[token] = identity

    def _check(self, token: str) -> Identity:
        """The token's identity after checking its signature and every claim."""
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
        return Identity(username=claims["sub"], role=role, email=claims.get("email", ""),
                        token_id=claims.get("jti", ""), expires=int(claims["exp"]),
                        issued_at=float(claims.get("iat", 0)), email_verified=claims.get("email_verified") is True)

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


def generate_keypair() -> tuple[str, str]:
    """A new RS256 key pair as PEM text: (private, public). For deployment set-up and tests."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def write_keypair(directory: Path) -> tuple[Path, Path]:
    """jwt-private.pem and jwt-public.pem in directory, made unless both are there already."""
    private_path, public_path = directory / "jwt-private.pem", directory / "jwt-public.pem"
    if not (private_path.exists() and public_path.exists()):
        directory.mkdir(parents=True, exist_ok=True)
        private, public = generate_keypair()
        private_path.write_text(private)
        private_path.chmod(0o600)
        public_path.write_text(public)
    return private_path, public_path
