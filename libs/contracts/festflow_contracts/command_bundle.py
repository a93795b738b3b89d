"""Several place-order commands in one AMQP message: a drop's commands travel in bundles.

RabbitMQ's quorum queue writes every message, and every acknowledgement, to its log, and the consumer
makes a message object and a delivery of each: per message, not per byte. The order service's relay puts
the place-order commands of its outbox that follow each other into one message (a bundle), and the
inventory places them as it places commands delivered together.

A bundle is an envelope like any other (`type` PLACE_ORDERS), whose `data.commands` holds the commands'
own envelopes, exactly as they were written to the outbox: `pack` joins their encoded text without
decoding it again. Each command keeps its own order id, so a redelivered bundle is deduplicated command
by command, as single commands are.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from festflow_contracts import events
from festflow_contracts.messages import InvalidMessage


def pack(payloads: Sequence[str], source: str) -> bytes:
    """One bundle of the encoded place-order envelopes `payloads` (their text, as the outbox keeps it)."""
    head = json.dumps({"specversion": events.SPEC_VERSION, "id": str(uuid.uuid4()), "source": source,
                       "type": events.PLACE_ORDERS, "time": events.now_iso(),
                       "datacontenttype": "application/json"}, separators=(",", ":"))
    return f'{head[:-1]},"data":{{"commands":[{",".join(payloads)}]}}}}'.encode()


def commands(bundle: dict[str, Any]) -> list[Any]:
    """The commands of a decoded bundle (each an envelope to parse as a PlaceOrder), or InvalidMessage."""
    data = bundle.get("data")
    listed = data.get("commands") if isinstance(data, dict) else None
    if bundle.get("type") != events.PLACE_ORDERS or not isinstance(listed, list) or not listed:
        raise InvalidMessage(f"{events.PLACE_ORDERS}: data.commands must be a list of commands")
    return listed
