"""Sample messages that the producers' and the consumers' tests share (`fixtures/<type>.json` beside
this package), so renaming a field on one side fails a fast test on the other.

A producer's test passes each message it builds to `record`: the sample must have the fixture's shape
(the same fields, the same kinds of values), or the test fails; `FESTFLOW_WRITE_FIXTURES=1` writes the
fixture anew, and then every consumer's test reads the new one. A consumer's test handles `sample(type)`.
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def sample(type_: str, **data: Any) -> dict[str, Any]:
    """The recorded sample envelope of this message type (a fresh copy, with a new event id), with the
    `data` fields given here set on top (a consumer test's own order id, say)."""
    event = json.loads((FIXTURES / f"{type_}.json").read_text())
    event["id"] = str(uuid.uuid4())
    event["data"].update(data)
    return event


def shape(value: Any) -> Any:
    """Field names and kinds of value, without the values: what a consumer relies on."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [shape(value[0])] if value else []
    return type(value).__name__


def record(event: dict[str, Any]) -> None:
    """Checks a producer's message against its fixture (or writes the fixture, see above)."""
    path = FIXTURES / f"{event['type']}.json"
    if os.environ.get("FESTFLOW_WRITE_FIXTURES") == "1" or not path.exists():
        path.write_text(json.dumps(event, indent=2, sort_keys=True) + "\n")
        return
    recorded = json.loads(path.read_text())
    assert shape(event) == shape(recorded), (
        f"{event['type']} as produced now differs from {path.name}, which its consumers' tests read:\n"
        f"  produced: {shape(event['data'])}\n  recorded: {shape(recorded['data'])}\n"
        "If the change is meant, write the fixture anew (FESTFLOW_WRITE_FIXTURES=1) and make every consumer "
        "handle it (their tests read the fixture).")
