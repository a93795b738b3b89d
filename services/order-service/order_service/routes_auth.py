"""POST /api/auth/login, POST /api/auth/logout, GET /api/auth/me."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response
from pydantic import BaseModel, Field, field_validator

from festflow_contracts.tokens import COOKIE_NAME, bearer_token
from festflow_runtime.text import plain_text
from order_service.deps import CurrentUser
from order_service.login import AccountLocked, LoginBusy, LoginRefused, authenticate

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)

    @field_validator("username")
    @classmethod
    def _text(cls, value: str) -> str:
        return plain_text(value)


@router.post("/login")
async def login(credentials: Credentials, request: Request, response: Response):
    """A token for the account (also set as an HttpOnly cookie). Wrong credentials are 401; after
    repeated failures the account is locked for a while (429 with the time it opens and Retry-After)."""
    state = request.app.state
    try:
        user = await authenticate(state.engine, credentials.username, credentials.password)
    except AccountLocked as exc:
        retry = max(1, int((exc.until - datetime.now(UTC)).total_seconds()))
        raise HTTPException(429, str(exc), headers={"Retry-After": str(retry)}) from exc
    except LoginBusy as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from exc
    except LoginRefused as exc:
        raise HTTPException(401, str(exc)) from exc
    token = state.issuer.issue(user["username"], user["role"], user["email"])
    response.set_cookie(COOKIE_NAME, token, max_age=state.issuer.ttl_seconds, httponly=True, samesite="lax",
                        secure=state.settings.cookie_secure or request.headers.get("x-forwarded-proto") == "https",
                        path="/")
    return {"access_token": token, "token_type": "bearer", "expires_in": state.issuer.ttl_seconds,
            "username": user["username"], "role": user["role"]}


@router.post("/logout", status_code=204)
async def logout(request: Request, response: Response, authorization: Annotated[str | None, Header()] = None):
    """Ends the session: the token (bearer or cookie) is refused from now on by every app."""
    state = request.app.state
    identity = state.verifier.identify(bearer_token(authorization) or request.cookies.get(COOKIE_NAME))
    if identity is not None and identity.token_id:
        state.verifier.revoke(identity.token_id, identity.expires)
        state.revocations.revoke(identity.token_id, identity.expires)
    response.delete_cookie(COOKIE_NAME, path="/")


@router.get("/me")
async def me(identity: CurrentUser):
    return {"username": identity.username, "role": identity.role, "email": identity.email}
