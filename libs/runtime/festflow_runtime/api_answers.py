"""Calls from a micro-frontend to an API, and the API's refusals made readable, the same way everywhere:
`reasons` for a list of messages, `field_errors` for a form (each message beside the field it concerns)."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    body: Any
    reached: bool = True  # False: the API did not answer at all (status 503)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def call_api(client: httpx.AsyncClient, method: str, path: str, *, headers: dict[str, str] | None = None,
                   json: Any = None, params: dict[str, Any] | None = None, content: bytes | None = None,
                   files: dict[str, Any] | None = None,
                   unreachable: str = "the order service cannot be reached right now") -> ApiAnswer:
    """The API's answer; a network failure is an answer too (503 with `unreachable`), never an exception."""
    try:
        resp = await client.request(method, path, headers=headers, json=json, params=params, content=content,
                                    files=files)
    except httpx.HTTPError:
        return ApiAnswer(503, {"detail": unreachable}, reached=False)
    try:
        return ApiAnswer(resp.status_code, resp.json())
    except ValueError:
        return ApiAnswer(resp.status_code, {"detail": f"error {resp.status_code}"})


def reasons(body: Any) -> list[str]:
    """Readable reasons from an API refusal: {"detail": "..."} or a validation list (each with its field)."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        found = []
        for item in detail:
            msg = str(item.get("msg", item) if isinstance(item, dict) else item).removeprefix("Value error, ")
            field = str(item.get("loc", [""])[-1]) if isinstance(item, dict) else ""
            found.append(msg if not field or field in msg else f"{field}: {msg}")
        return found
    return [str(detail or "something went wrong")]


def reason(body: Any) -> str:
    return "; ".join(reasons(body))


def field_errors(body: Any, fields: Collection[str] | None = None) -> dict[str, str]:
    """An API refusal as {field: sentence}, under `form` what concerns no one field (or a field not among
    `fields`, when given). A field is the validation error's location, the answer's `field`, or a message's
    own prefix ("ends_on: cannot end before it starts")."""
    detail = body.get("detail") if isinstance(body, dict) else None
    entries = detail if isinstance(detail, list) else [detail] if detail else []
    found: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, dict):
            field, msg = str(entry.get("loc", ["form"])[-1]), str(entry.get("msg", "invalid"))
        else:
            field, msg = str(body.get("field") or "form"), str(entry)
        msg = msg.removeprefix("Value error, ")
        named, colon, rest = msg.partition(":")
        if colon and (named == field or (fields is not None and named in fields)):
            field, msg = named, rest.strip()
        if fields is not None and field not in fields:
            field = "form"
        found.setdefault(field, sentence(msg))
    return found or {"form": "That did not work; try again in a moment."}


def sentence(message: str) -> str:
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith((".", "!", "?")) else ".")
