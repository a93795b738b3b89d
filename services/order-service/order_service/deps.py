"""Request dependencies: who is calling (verified bearer token or cookie)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from festflow_contracts.tokens import COOKIE_NAME, Identity, InvalidToken, bearer_token


async def current_identity(request: Request, authorization: Annotated[str | None, Header()] = None) -> Identity:
    token = bearer_token(authorization) or request.cookies.get(COOKIE_NAME)
    try:
        return request.app.state.verifier.verify(token)
    except InvalidToken as exc:
        raise HTTPException(401, f"authentication required: {exc}",
                            headers={"WWW-Authenticate": "Bearer"}) from exc


async def admin_identity(identity: Annotated[Identity, Depends(current_identity)]) -> Identity:
    if not identity.is_admin:
        raise HTTPException(403, "admin role required")
    return identity


CurrentUser = Annotated[Identity, Depends(current_identity)]
AdminUser = Annotated[Identity, Depends(admin_identity)]
