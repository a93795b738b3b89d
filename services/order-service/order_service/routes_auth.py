"""Logging in and out, signing up, confirming the address and setting a new password: /api/auth/*."""
from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from festflow_contracts.tokens import COOKIE_NAME, bearer_token
from festflow_runtime.text import plain_text
from order_service import registration
from order_service.bootstrap import Services
from order_service.deps import AppServices, CurrentUser, caller_address
from order_service.login import (
    AccountLocked,
    LoginBusy,
    LoginRefused,
    ProofNeeded,
    authenticate,
    hash_password_off_loop,
)
from order_service.registration import AccountError, SignUp

router = APIRouter(prefix="/api/auth", tags=["auth"])
log = logging.getLogger("order_service.accounts")


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)

    @field_validator("username")
    @classmethod
    def _text(cls, value: str) -> str:
        return plain_text(value)


@router.post("/login")
async def login(services: AppServices, credentials: Credentials, request: Request, response: Response):
    """A token for the account (also set as an HttpOnly cookie). Wrong credentials are 401; after
    repeated failures the account is locked for a while for the caller's address (429 with the time it
    opens and Retry-After); a login from another address goes on."""
    try:
        user = await authenticate(services.engine, credentials.username, credentials.password, services.login_policy,
                                  address=caller_address(request))
    except AccountLocked as exc:
        retry = max(1, int((exc.until - datetime.now(UTC)).total_seconds()))
        raise HTTPException(429, str(exc), headers={"Retry-After": str(retry)}) from exc
    except LoginBusy as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from exc
    except ProofNeeded as exc:
        username = exc.user["username"]
        if await registration.request_login_link(services.engine, username, interval=services.mail_interval):
            services.account_events.notify()
        return JSONResponse({"detail": str(exc), "proof": "mailed_login_link"}, status_code=403)
    except LoginRefused as exc:
        raise HTTPException(401, str(exc)) from exc
    return await _logged_in(services, request, response, user)


async def _logged_in(services: Services, request: Request, response: Response, user: dict) -> dict:
    """A token for the user, in the answer and as an HttpOnly cookie; it says whether the address is confirmed
    (the waiting room lets a verified account join without asking)."""
    async with services.engine.connect() as conn:
        verified = await registration.is_verified(conn, user["username"])
    token = services.issuer.issue(user["username"], user["role"], user["email"], email_verified=verified)
    response.set_cookie(COOKIE_NAME, token, max_age=services.issuer.ttl_seconds, httponly=True, samesite="lax",
                        secure=services.settings.cookie_secure or request.headers.get("x-forwarded-proto") == "https",
                        path="/")
    return {"access_token": token, "token_type": "bearer", "expires_in": services.issuer.ttl_seconds,
            "username": user["username"], "role": user["role"]}


@router.post("/login-link")
async def login_by_link(services: AppServices, body: Token, request: Request, response: Response):
    """Logs in with the one-time link mailed when an account was guessed at from many addresses (once,
    within 15 minutes); 400 says why a link is not good. The account's guessing count starts again."""
    try:
        user = await registration.log_in_by_link(services.engine, body.token)
    except AccountError as exc:
        return _account_error(exc)
    log.warning("account %s logged in by its mailed link from address %s", user["username"],
                caller_address(request) or "?")
    return await _logged_in(services, request, response, user)


@router.post("/logout", status_code=204)
async def logout(services: AppServices, request: Request, response: Response,
                 authorization: Annotated[str | None, Header()] = None):
    """Ends the session: the token (bearer or cookie) is refused from now on by every app."""
    identity = services.verifier.identify(bearer_token(authorization) or request.cookies.get(COOKIE_NAME))
    if identity is not None and identity.token_id:
        services.verifier.revoke(identity.token_id, identity.expires)
        services.revocations.revoke(identity.token_id, identity.expires)
    response.delete_cookie(COOKIE_NAME, path="/")


@router.get("/me")
async def me(services: AppServices, identity: CurrentUser):
    async with services.engine.connect() as conn:
        verified = await registration.is_verified(conn, identity.username)
    return {"username": identity.username, "role": identity.role, "email": identity.email,
            "email_verified": verified}


def _account_error(exc: AccountError) -> JSONResponse:
    return JSONResponse({"detail": str(exc), "field": exc.field}, status_code=exc.status)


def _busy(exc: LoginBusy) -> HTTPException:
    return HTTPException(503, str(exc), headers={"Retry-After": "1"})


class Token(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=200)


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=200)


class NewPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=200)
    password: str = Field(max_length=200)

    @field_validator("password")
    @classmethod
    def _text(cls, value: str) -> str:
        return plain_text(value)


@router.post("/register", status_code=201, responses={409: {"description": "username taken"}})
async def register(services: AppServices, sign_up: SignUp):
    """A buyer's account. A mail with a link to confirm the address goes out at once; until the link is
    followed the account can log in and fill a cart but checkout answers 403. 409 for a taken username,
    422 with the rule for a weak password or a malformed field. An address that has an account already
    gets the same answer (its owner a mail saying so): the answer tells nobody which addresses have
    accounts."""
    try:
        account = await registration.register(services.engine, sign_up, hash_password_off_loop,
                                              interval=services.mail_interval)
    except AccountError as exc:
        return _account_error(exc)
    except LoginBusy as exc:
        raise _busy(exc) from exc
    services.account_events.notify()
    return {**account, "email_verified": False,
            "detail": f"Check your mail: we sent a message to {account['email']} with what to do next."}


@router.post("/verify-email")
async def verify_email(services: AppServices, body: Token):
    """Follows the link of the confirmation mail (once; valid for a day). 400 says why a link is not good."""
    try:
        username = await registration.verify_email(services.engine, body.token)
    except AccountError as exc:
        return _account_error(exc)
    return {"username": username, "email_verified": True}


@router.post("/verify-email/resend", status_code=202)
async def resend_verification(services: AppServices, identity: CurrentUser):
    """Another confirmation mail for the caller's account (at most one a minute)."""
    sent = await registration.resend_verification(services.engine, identity.username, interval=services.mail_interval)
    if sent:
        services.account_events.notify()
    async with services.engine.connect() as conn:
        verified = await registration.is_verified(conn, identity.username)
    detail = ("Your address is confirmed already." if verified else
              f"A new link is on its way to {identity.email}." if sent else
              "A link went out less than a minute ago; look for it in your mail.")
    return {"sent": sent, "detail": detail}


@router.post("/password-reset", status_code=202)
async def password_reset(services: AppServices, body: ResetRequest):
    """Mails a link to set a new password to the account with this address. The answer is the same, and
    as quick, whether or not such an account exists: the work is done after it."""
    task = asyncio.create_task(_reset_mail(services, body.email))  # answered at once: the time tells nothing
    services.account_work.add(task)
    task.add_done_callback(services.account_work.discard)
    return {"detail": "If an account has this address, a link to set a new password is on its way "
                      "(valid for an hour)."}


async def _reset_mail(services: Services, email: str) -> None:
    try:
        if await registration.request_password_reset(services.engine, email, interval=services.mail_interval):
            services.account_events.notify()
    except Exception:  # the buyer was answered already; they may ask again
        log.exception("a password reset mail could not be queued")


@router.post("/password-reset/confirm")
async def password_reset_confirm(services: AppServices, body: NewPassword, request: Request):
    """Sets the new password with the link's token (once; valid for an hour)."""
    try:
        ended = await registration.reset_password(services.engine, body.token, body.password, hash_password_off_loop)
    except AccountError as exc:
        return _account_error(exc)
    except LoginBusy as exc:
        raise _busy(exc) from exc
    _sessions_ended(services, ended)
    log.warning("password of %s reset from address %s: every session ended, login locks lifted", ended.username,
                caller_address(request) or "?")
    return {"username": ended.username, "sessions_ended": True,
            "detail": "Your password is set, and every device that was logged in to your account has been "
                      "logged out; log in with the new password."}


@router.post("/logout-everywhere")
async def logout_everywhere(services: AppServices, response: Response, identity: CurrentUser):
    """Ends every session of the caller's account, this one included: every app refuses its tokens."""
    ended = await registration.end_sessions(services.engine, identity.username, "logged out everywhere")
    _sessions_ended(services, ended)
    response.delete_cookie(COOKIE_NAME, path="/")
    return {"sessions_ended": True, "detail": "Every device that was logged in to your account is logged out."}



def _sessions_ended(services: Services, ended: registration.EndedSessions) -> None:
    """This instance refuses the account's older tokens at once; the other apps when the outbox's event
    reaches them (the relay is woken for it)."""
    services.verifier.end_sessions(ended.username, ended.before)
    services.account_events.notify()
