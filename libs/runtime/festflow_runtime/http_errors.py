"""Errors every service answers the same way.

- Validation errors that can always be sent: FastAPI's default 422 echoes the offending input, and an input
  such as NaN or a lone surrogate cannot be encoded as JSON, which turned a 422 into a 500.
- A database that cannot be reached (its server went away, or a standby is being promoted in its place): 503
  with Retry-After, not a 500. A checkout's Idempotency-Key makes the retry safe even when the commit's answer
  was what got lost.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def _plain(error: dict[str, Any]) -> dict[str, str | list[str]]:
    return {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", "invalid")),
            "type": str(error.get("type", "value_error"))}


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": [_plain(error) for error in exc.errors()]}, status_code=422)


DATABASE_RETRY_SECONDS = 2


def lost_database(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached or its connection broke (not that a statement
    was refused: a constraint violation is the code's to handle)."""
    if isinstance(exc, sa.exc.DBAPIError):
        # asyncpg's client-side state error: a statement on a connection that broke under another one
        client_side = type(exc.orig).__name__ == "InternalClientError"
        return exc.connection_invalidated or client_side or isinstance(
            exc, sa.exc.OperationalError | sa.exc.InterfaceError) or type(exc) is sa.exc.DBAPIError
    return isinstance(exc, ConnectionError)


def unreachable_response() -> JSONResponse:
    return JSONResponse({"detail": "the database is not reachable just now: try again in a moment"},
                        status_code=503, headers={"Retry-After": str(DATABASE_RETRY_SECONDS)})


async def database_unreachable(_request: Request, exc: Exception) -> JSONResponse:
    if not lost_database(exc):
        raise exc
    return unreachable_response()


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(sa.exc.DBAPIError, database_unreachable)
    app.add_exception_handler(ConnectionError, database_unreachable)
