"""Who calls a service's API, as FastAPI dependencies: the bearer token (or the session cookie our own pages
send), verified by the service's own TokenVerifier, which it keeps at `app.state.services.verifier` (its
bootstrap.Services). 401 without a valid token, 403 for an organiser's call by anyone else."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from festflow_contracts.tokens import COOKIE_NAME, Identity, InvalidToken, bearer_token


def caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Identity:
    try:
        return request.app.state.services.verifier.verify(bearer_token(authorization)
                                                          or request.cookies.get(COOKIE_NAME))
    except InvalidToken as exc:
        raise HTTPException(401, f"authentication required: {exc}", headers={"WWW-Authenticate": "Bearer"}) from exc


def organiser(identity: Annotated[Identity, Depends(caller)]) -> Identity:
    if not identity.is_admin:
        raise HTTPException(403, "admin role required")
    return identity


Caller = Annotated[Identity, Depends(caller)]
Organiser = Annotated[Identity, Depends(organiser)]
