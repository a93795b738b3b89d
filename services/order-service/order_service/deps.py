"""Request dependencies: the service's parts (bootstrap.Services), who is calling (verified bearer token or
cookie), and from which address."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from festflow_contracts.tokens import COOKIE_NAME, Identity, InvalidToken, bearer_token
from festflow_runtime.client_address import HEADER, client_address
from order_service.bootstrap import Services


def services(request: Request) -> Services:
    return request.app.state.services


AppServices = Annotated[Services, Depends(services)]


async def current_identity(request: Request, parts: AppServices,
                           authorization: Annotated[str | None, Header()] = None) -> Identity:
    token = bearer_token(authorization) or request.cookies.get(COOKIE_NAME)
    try:
        return parts.verifier.verify(token)
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
    return client_address(peer, request.headers.get(HEADER), services(request).trusted_proxies)


CallerAddress = Annotated[str, Depends(caller_address)]
