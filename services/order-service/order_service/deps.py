"""Request dependencies: who is calling (verified bearer token or cookie), and from which address."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from festflow_contracts.tokens import COOKIE_NAME, Identity, InvalidToken, bearer_token
from festflow_runtime.client_address import HEADER, client_address


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


def caller_address(request: Request) -> str:
    """The client's address, as the gateway (or the shell, for its forms) says when it is a trusted proxy."""
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get(HEADER), request.app.state.trusted_proxies)
