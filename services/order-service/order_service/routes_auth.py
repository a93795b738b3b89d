"""POST /api/auth/login, POST /api/auth/logout, GET /api/auth/me."""
from __future__ import annotations

import asyncio

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from festflow_contracts.tokens import COOKIE_NAME
from order_service.db import users
from order_service.deps import CurrentUser
from order_service.security import check_password

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


@router.post("/login")
async def login(credentials: Credentials, request: Request, response: Response):
    state = request.app.state
    async with state.engine.connect() as conn:
        user = (await conn.execute(sa.select(users).where(users.c.username == credentials.username))).mappings().first()
    ok = user is not None and await asyncio.to_thread(check_password, credentials.password, user["password_hash"])
    if not ok:
        raise HTTPException(401, "wrong username or password")
    token = state.issuer.issue(user["username"], user["role"], user["email"])
    response.set_cookie(COOKIE_NAME, token, max_age=state.issuer.ttl_seconds, httponly=True, samesite="lax",
                        secure=state.settings.cookie_secure, path="/")
    return {"access_token": token, "token_type": "bearer", "expires_in": state.issuer.ttl_seconds,
            "username": user["username"], "role": user["role"]}


@router.post("/logout", status_code=204)
async def logout(response: Response):
    response.delete_cookie(COOKIE_NAME, path="/")


@router.get("/me")
async def me(identity: CurrentUser):
    return {"username": identity.username, "role": identity.role, "email": identity.email}
