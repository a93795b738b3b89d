"""What the account pages share: calls to the order API's account routes for the visitor (their address,
so its limits and lockouts count per client), and the message for an order API that is away."""
from __future__ import annotations

from typing import Any

from fastapi import Request

from festflow_runtime.api_answers import ApiAnswer, call_api, field_errors
from festflow_runtime.fragment_app import parts
from festflow_runtime.web_auth import for_visitor

UNAVAILABLE = {"form": "This is unavailable right now; try again in a moment."}


async def account_api(request: Request, path: str, json: dict[str, Any] | None = None,
                      headers: dict[str, str] | None = None) -> ApiAnswer:
    """POST to the order API's `path` for this visitor."""
    return await call_api(parts(request).api("orders"), "POST", path, json=json,
                          headers={**for_visitor(request), **(headers or {})})


def refusal(answer: ApiAnswer) -> tuple[dict[str, str], int]:
    """A refusal as {field: sentence} and the status to answer with (503 when the API is away)."""
    if answer.status >= 500:
        return UNAVAILABLE, 503
    return field_errors(answer.body), answer.status
