"""Validation errors that can always be sent: FastAPI's default 422 echoes the offending input, and an
input such as NaN or a lone surrogate cannot be encoded as JSON, which turned a 422 into a 500."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def _plain(error: dict[str, Any]) -> dict[str, str | list[str]]:
    return {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", "invalid")),
            "type": str(error.get("type", "value_error"))}


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": [_plain(error) for error in exc.errors()]}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
