"""Accounts a buyer makes and looks after: sign-up, confirming the email address, a new password.

- `register` makes the account and, in the same transaction, the mail's event (in the event outbox) with
  a one-time link; until the link is followed the account may not check out (ordering.BuyerNotVerified).
- `verify_email` and `reset_password` take the secret of a link; only its SHA-256 is stored, it works
  once and expires (a day for the address, an hour for a password). Only the newest link of a purpose
  works: a new one voids the older ones, and using one voids every other.
- `reset_password` and `end_sessions` end every session of the account: in the transaction that does it,
  a SessionsEnded event goes into the event outbox for every app's token verifier.
- `register` and `request_password_reset` answer the same whether the address is known or not, so they
  tell nobody which addresses have accounts; at most one mail of a kind a minute, and five of every
  kind an hour, go to an account.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import messages
from festflow_contracts.channels import ACCOUNT_EVENTS_TOPIC, AUTH_EVENTS_TOPIC
from festflow_runtime import outbox
from festflow_runtime.text import plain_text
from order_service.db import account_tokens, event_outbox, unverified_accounts, users
from order_service.login import ANY_ADDRESS, lift_locks

SOURCE = "/festflow/order-service"
VERIFY_FOR = timedelta(days=1)
RESET_FOR = timedelta(hours=1)
LOGIN_LINK_FOR = timedelta(minutes=15)
MAIL_INTERVAL = timedelta(minutes=1)
MAILS_PER_HOUR = 5  # account mails (links, notices) to one account, of every kind together
USERNAME_RULE = "3-32 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
PASSWORD_RULE = ("at least 10 characters, not all digits, not containing the username, "
                 "and not one of the most common passwords")
COMMON = {"password123", "1234567890", "qwertyuiop", "password1234", "iloveyou12", "festflow123",
          "letmein123", "welcome123", "abcdefghij", "passwordpassword"}

USED = "this link is no longer valid: it was used, or a newer one was sent; ask for a new one if you need it"

Hasher = Callable[[str], Awaitable[str]]


class AccountError(Exception):
    """The request cannot be done; `status` is the HTTP status, `field` the input it concerns."""
    status = 422

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class AccountTaken(AccountError):
    status = 409


class LinkInvalid(AccountError):
    status = 400


class SignUp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=32, description=USERNAME_RULE)
    email: str = Field(max_length=200)
    password: str = Field(max_length=200, description=PASSWORD_RULE)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        value = plain_text(value).strip().lower()
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{2,31}", value):
            raise ValueError(f"username: {USERNAME_RULE}")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return mailbox(plain_text(value).strip())

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        return plain_text(value)


def mailbox(address: str) -> str:
    """The bare address of one mailbox, normalised (its domain in lower case; compared without case), or
    ValueError with the reason. Display names, angle brackets, comments and quoted local parts are refused,
    so that one mailbox cannot be written as several addresses (`(1)anna@x.org`, `<anna@x.org>`), nor an
    address carry another recipient into a mail's `To:`."""
    try:
        return validate_email(address, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"email: {exc} Give an address like name@example.org.") from None


def password_problem(password: str, username: str) -> str | None:
    """Why this password is too weak, or None."""
    if len(password) < 10 or password.isdigit() or password.lower() in COMMON \
            or (username and username.lower() in password.lower()):
        return f"password: {PASSWORD_RULE}"
    return None


@dataclass(frozen=True)
class Link:
    secret: str
    expires_at: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


async def _void_links(conn: AsyncConnection, username: str, purpose: str, now: datetime) -> None:
    """The account's unused links of this purpose stop working (marked used)."""
    await conn.execute(account_tokens.update()
                       .where(account_tokens.c.username == username, account_tokens.c.purpose == purpose,
                              account_tokens.c.used_at.is_(None))
                       .values(used_at=now.isoformat()))


async def _new_link(conn: AsyncConnection, username: str, purpose: str, valid_for: timedelta,
                    now: datetime) -> Link:
    """A new one-time link; the account's older links of this purpose stop working."""
    await _void_links(conn, username, purpose, now)
    secret = secrets.token_urlsafe(32)
    expires = (now + valid_for).isoformat()
    await conn.execute(account_tokens.insert().values(token_hash=_hash(secret), username=username, purpose=purpose,
                                                      created_at=now.isoformat(), expires_at=expires))
    return Link(secret, expires)


async def _emit(conn: AsyncConnection, message: messages.Message, key: str) -> None:
    await outbox.emit(conn, event_outbox, ACCOUNT_EVENTS_TOPIC, key, messages.envelope(message, SOURCE, subject=key))


async def register(engine: AsyncEngine, sign_up: SignUp, hasher: Hasher,
                   clock: Callable[[], datetime] = _now,
                   interval: timedelta = MAIL_INTERVAL) -> dict[str, str]:
    """Makes an unverified account and queues its confirmation mail. AccountTaken for a used username
    (409), AccountError for a weak password (422). An address that has an account already gets the same
    answer, after the same work (the hash), and its owner a mail that says so: sign-up tells nobody which
    addresses have accounts."""
    problem = password_problem(sign_up.password, sign_up.username)
    if problem:
        raise AccountError(problem, "password")
    await _refuse_taken_username(engine, sign_up)
    password_hash = await hasher(sign_up.password)
    now = clock()
    answer = {"username": sign_up.username, "email": sign_up.email}
    async with engine.begin() as conn:
        await _refuse_taken_username(conn, sign_up)  # again, inside the transaction that writes
        owner = (await conn.execute(sa.select(users.c.username, users.c.email).where(
            sa.func.lower(users.c.email) == sign_up.email.lower()).order_by(users.c.username).limit(1))).first()
        if owner is not None:
            if not await _recently_mailed(conn, owner.username, "exists", now, interval):
                await _note_mail(conn, owner.username, "exists", now)
                await _emit(conn, messages.SignUpForExistingAccount(username=owner.username, email=owner.email),
                            owner.username)
            return answer
        await conn.execute(users.insert().values(username=sign_up.username, email=sign_up.email, role="client",
                                                 password_hash=password_hash))
        await conn.execute(unverified_accounts.insert().values(username=sign_up.username,
                                                               created_at=now.isoformat()))
        link = await _new_link(conn, sign_up.username, "verify", VERIFY_FOR, now)
        await _emit(conn, messages.AccountRegistered(username=sign_up.username, email=sign_up.email,
                                                     verify_token=link.secret, expires_at=link.expires_at),
                    sign_up.username)
    return answer


async def _refuse_taken_username(db: AsyncEngine | AsyncConnection, sign_up: SignUp) -> None:
    query = sa.select(users.c.username).where(users.c.username == sign_up.username)
    if isinstance(db, AsyncEngine):
        async with db.connect() as conn:
            taken = (await conn.execute(query)).first()
    else:
        taken = (await db.execute(query)).first()
    if taken is not None:
        raise AccountTaken("username: this username is taken; choose another", "username")


async def _note_mail(conn: AsyncConnection, username: str, purpose: str, now: datetime) -> None:
    """Records a mail that carries no link (a used, never valid row), so the mail limits count it."""
    await conn.execute(account_tokens.insert().values(
        token_hash=_hash(secrets.token_urlsafe(32)), username=username, purpose=purpose,
        created_at=now.isoformat(), expires_at=now.isoformat(), used_at=now.isoformat()))


async def _take_link(conn: AsyncConnection, secret: str, purpose: str, now: datetime) -> str:
    """The username of a valid, unused link of this purpose, now used; LinkInvalid otherwise."""
    row = (await conn.execute(sa.select(account_tokens).where(account_tokens.c.token_hash == _hash(secret))
                              )).mappings().first()
    if row is None or row["purpose"] != purpose:
        raise LinkInvalid("this link is not valid; ask for a new one")
    if row["used_at"] is not None:
        raise LinkInvalid(USED)
    if datetime.fromisoformat(row["expires_at"]) <= now:
        raise LinkInvalid("this link has expired; ask for a new one")
    used = await conn.execute(account_tokens.update()
                              .where(account_tokens.c.token_hash == row["token_hash"],
                                     account_tokens.c.used_at.is_(None))
                              .values(used_at=now.isoformat()))
    if used.rowcount != 1:  # a concurrent use of the same link, or a newer link, got there first
        raise LinkInvalid(USED)
    await _void_links(conn, str(row["username"]), purpose, now)  # the account's other links of this purpose
    return str(row["username"])


async def verify_email(engine: AsyncEngine, secret: str, clock: Callable[[], datetime] = _now) -> str:
    """Confirms the account's address (it may check out from now on); returns its username."""
    async with engine.begin() as conn:
        username = await _take_link(conn, secret, "verify", clock())
        await conn.execute(unverified_accounts.delete().where(unverified_accounts.c.username == username))
    return username


async def is_verified(conn: AsyncConnection, username: str) -> bool:
    return await conn.scalar(sa.select(unverified_accounts.c.username)
                             .where(unverified_accounts.c.username == username)) is None


async def _recently_mailed(conn: AsyncConnection, username: str, purpose: str, now: datetime,
                           interval: timedelta) -> bool:
    """Whether the account had a mail of this purpose within `interval`, or MAILS_PER_HOUR mails of any
    purpose within the hour: then it gets none now, whatever the route that asks."""
    latest = await conn.scalar(sa.select(sa.func.max(account_tokens.c.created_at))
                               .where(account_tokens.c.username == username, account_tokens.c.purpose == purpose))
    if latest is not None and datetime.fromisoformat(latest) > now - interval:
        return True
    last_hour = await conn.scalar(sa.select(sa.func.count()).select_from(account_tokens).where(
        account_tokens.c.username == username, account_tokens.c.created_at > (now - timedelta(hours=1)).isoformat()))
    return bool(last_hour and last_hour >= MAILS_PER_HOUR)


async def resend_verification(engine: AsyncEngine, username: str, clock: Callable[[], datetime] = _now,
                              interval: timedelta = MAIL_INTERVAL) -> bool:
    """A new confirmation mail for an unverified account (False: verified already, or one went out
    less than a minute ago)."""
    now = clock()
    async with engine.begin() as conn:
        user = (await conn.execute(sa.select(users).where(users.c.username == username))).mappings().first()
        if user is None or await is_verified(conn, username) or await _recently_mailed(conn, username, "verify", now,
                                                                                            interval):
            return False
        link = await _new_link(conn, username, "verify", VERIFY_FOR, now)
        await _emit(conn, messages.AccountRegistered(username=username, email=user["email"],
                                                     verify_token=link.secret, expires_at=link.expires_at), username)
    return True


async def request_password_reset(engine: AsyncEngine, email: str, clock: Callable[[], datetime] = _now,
                                 interval: timedelta = MAIL_INTERVAL) -> bool:
    """Queues a reset mail to the account with this address, if there is one (the caller answers the
    same either way). True when a mail was queued."""
    now = clock()
    async with engine.begin() as conn:
        user = (await conn.execute(sa.select(users.c.username, users.c.email)
                                   .where(sa.func.lower(users.c.email) == email.strip().lower())
                                   .order_by(users.c.username).limit(1))).first()
        if user is None or await _recently_mailed(conn, user.username, "reset", now, interval):
            return False
        link = await _new_link(conn, user.username, "reset", RESET_FOR, now)
        await _emit(conn, messages.PasswordResetRequested(username=user.username, email=user.email,
                                                          reset_token=link.secret, expires_at=link.expires_at),
                    user.username)
    return True


async def reset_password(engine: AsyncEngine, secret: str, password: str, hasher: Hasher,
                         clock: Callable[[], datetime] = _now) -> EndedSessions:
    """Sets a new password with a reset link (which also confirms the address and lifts a lockout) and
    ends every session of the account."""
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(account_tokens.c.username)
                                  .where(account_tokens.c.token_hash == _hash(secret)))).first()
    problem = password_problem(password, row.username if row else "")
    if problem:
        raise AccountError(problem, "password")
    password_hash = await hasher(password)
    now = clock()
    async with engine.begin() as conn:
        username = await _take_link(conn, secret, "reset", now)
        await conn.execute(users.update().where(users.c.username == username).values(password_hash=password_hash))
        await conn.execute(unverified_accounts.delete().where(unverified_accounts.c.username == username))
        await lift_locks(conn, username)  # (the route logs the reset, with the caller's address)
        ended = await _end_sessions(conn, username, now, "password reset")
    return EndedSessions(username, ended)


@dataclass(frozen=True)
class EndedSessions:
    username: str
    before: float  # every token of the account issued at or before this moment (Unix seconds) is refused


async def _end_sessions(conn: AsyncConnection, username: str, now: datetime, reason: str) -> float:
    before = now.timestamp()
    await outbox.emit(conn, event_outbox, AUTH_EVENTS_TOPIC, username, messages.envelope(
        messages.SessionsEnded(username=username, before=before, reason=reason), SOURCE, subject=username))
    return before


async def end_sessions(engine: AsyncEngine, username: str, reason: str,
                       clock: Callable[[], datetime] = _now) -> EndedSessions:
    """Ends every session of the account now (log out everywhere): every app refuses its tokens issued
    until this moment."""
    async with engine.begin() as conn:
        before = await _end_sessions(conn, username, clock(), reason)
    return EndedSessions(username, before)


async def request_login_link(engine: AsyncEngine, username: str, clock: Callable[[], datetime] = _now,
                             interval: timedelta = MAIL_INTERVAL) -> bool:
    """Mails the account a one-time login link (login.ProofNeeded); False when one went out lately."""
    now = clock()
    async with engine.begin() as conn:
        user = (await conn.execute(sa.select(users).where(users.c.username == username))).mappings().first()
        if user is None or await _recently_mailed(conn, username, "login", now, interval):
            return False
        link = await _new_link(conn, username, "login", LOGIN_LINK_FOR, now)
        await _emit(conn, messages.LoginLinkRequested(username=username, email=user["email"],
                                                      login_token=link.secret, expires_at=link.expires_at), username)
    return True


async def log_in_by_link(engine: AsyncEngine, secret: str, clock: Callable[[], datetime] = _now) -> dict[str, str]:
    """The account of a valid one-time login link (used now), its guessing count started again; LinkInvalid
    otherwise."""
    async with engine.begin() as conn:
        username = await _take_link(conn, secret, "login", clock())
        await lift_locks(conn, username, ANY_ADDRESS)
        user = (await conn.execute(sa.select(users).where(users.c.username == username))).mappings().one()
    return dict(user)
