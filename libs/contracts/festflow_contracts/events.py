"""One envelope for every event: CloudEvents 1.0 attributes plus `data`, serialised as JSON.

Types are versioned (`festflow.order.confirmed.v2`); consumers deduplicate on `id`. A type renamed in a
new version keeps its older name in `LEGACY_TYPES`: consumers read both while older records remain on a
topic, producers send only the new one.
"""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

SPEC_VERSION = "1.0"

# order outcome events (ORDER_EVENTS_TOPIC): the inventory took the stock, or refused the order
ORDER_CONFIRMED = "festflow.order.confirmed.v2"
ORDER_REJECTED = "festflow.order.rejected.v1"
# an order that must be paid: the stock is held for it until a deadline (ORDER_EVENTS_TOPIC), then it is paid
# (ORDER_CONFIRMED), runs out (ORDER_EXPIRED), or is paid too late with nothing left (ORDER_REFUND_DUE)
ORDER_HELD = "festflow.order.held.v1"
ORDER_EXPIRED = "festflow.order.expired.v1"
ORDER_REFUND_DUE = "festflow.order.refund-due.v1"
# payments (PAYMENT_EVENTS_TOPIC): the whole amount of an order was received
PAYMENT_RECEIVED = "festflow.payment.received.v1"
# catalog events (CATALOG_EVENTS_TOPIC): a ticket type (not an issued ticket) or the festival changed
TICKET_TYPE_CHANGED = "festflow.ticket-type.changed.v2"
FESTIVAL_CHANGED = "festflow.festival.changed.v1"
# the organiser's waiting room in front of the sale (CATALOG_EVENTS_TOPIC, key `waiting-room`)
WAITING_ROOM_CHANGED = "festflow.waiting-room.changed.v1"
# a logged-out token, refused by every verifier from now on (AUTH_EVENTS_TOPIC)
TOKEN_REVOKED = "festflow.token.revoked.v1"
SESSIONS_ENDED = "festflow.account.sessions-ended.v1"  # every token of an account issued before a time
# tickets (TICKET_EVENTS_TOPIC)
TICKETS_ISSUED = "festflow.tickets.issued.v1"
TICKETS_RESENT = "festflow.tickets.resent.v1"
TICKET_UPDATED = "festflow.ticket.updated.v1"
# account events that send a mail with a one-time link (ACCOUNT_EVENTS_TOPIC)
ACCOUNT_REGISTERED = "festflow.account.registered.v1"
PASSWORD_RESET_REQUESTED = "festflow.account.password-reset-requested.v1"
SIGN_UP_FOR_EXISTING_ACCOUNT = "festflow.account.sign-up-for-existing-account.v1"
LOGIN_LINK_REQUESTED = "festflow.account.login-link-requested.v1"  # a one-time login, for an account under attack
# log records (SYSTEM_LOGS_TOPIC)
LOG_RECORD = "festflow.log.record.v1"

ORDER_CANCELLED = "festflow.order.cancelled.v1"
# the commands the order service sends to the inventory service over RabbitMQ
PLACE_ORDER = "festflow.order.place.v1"
CANCEL_ORDER = "festflow.order.cancel.v1"
PAY_BY_BANK_TRANSFER = "festflow.order.pay-by-bank-transfer.v1"  # the buyer chose a transfer: a longer hold
# several place-order commands in one AMQP message (festflow_contracts.command_bundle)
PLACE_ORDERS = "festflow.order.place-bundle.v1"

# the older names of renamed types -> their current ones: read by every consumer, sent by no producer
LEGACY_TYPES = {
    "festflow.ticket.sold.v1": ORDER_CONFIRMED,
    "festflow.ticket.changed.v1": TICKET_TYPE_CHANGED,
}


def current_type(type_: str) -> str:
    """The type an event of `type_` is read as: its current name, for an older one."""
    return LEGACY_TYPES.get(type_, type_)


REQUIRED = ("id", "source", "type", "specversion", "time", "data")


class InvalidEvent(ValueError):
    """The bytes are not a FestFlow event envelope."""


def now_iso() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    """A moment as FestFlow writes it (UTC, milliseconds, "Z"): such texts sort as their moments do."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_event(type_: str, source: str, data: dict[str, Any], subject: str | None = None,
              event_id: str | None = None) -> dict[str, Any]:
    event = {
        "specversion": SPEC_VERSION,
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": type_,
        "time": now_iso(),
        "datacontenttype": "application/json",
        "data": data,
    }
    if subject is not None:
        event["subject"] = subject
    return event


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def decode(raw: bytes | str) -> dict[str, Any]:
    try:
        event = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise InvalidEvent("envelope is not an object")
    missing = [key for key in REQUIRED if key not in event]
    if missing:
        raise InvalidEvent(f"envelope lacks {', '.join(missing)}")
    if event["specversion"] != SPEC_VERSION:
        raise InvalidEvent(f"unsupported specversion {event['specversion']!r}")
    if not isinstance(event["data"], dict):
        raise InvalidEvent("data is not an object")
    return event
