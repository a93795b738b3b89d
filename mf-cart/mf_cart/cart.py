"""The cart lives in the buyer's browser, in a cookie: `<ticket>:<qty>,<ticket>:<qty>|<checkout key>`.

The checkout key is the Idempotency-Key of the order this cart becomes: a retried CHECKOUT of the
same cart can never buy twice. A new key is drawn once the order is accepted.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

COOKIE = "festflow_cart"
MAX_QUANTITY = 10
MAX_LINES = 10
_TICKET_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class Cart:
    items: dict[str, int] = field(default_factory=dict)
    key: str = field(default_factory=lambda: str(uuid.uuid4()))

    @classmethod
    def parse(cls, raw: str | None) -> Cart:
        cart = cls()
        if not raw or "|" not in raw:
            return cart
        lines, key = raw.rsplit("|", 1)
        try:
            cart.key = str(uuid.UUID(key))
        except ValueError:
            pass
        for part in lines.split(","):
            ticket_id, _, qty = part.partition(":")
            if _TICKET_ID.match(ticket_id) and qty.isdigit() and 0 < int(qty) <= MAX_QUANTITY:
                cart.items[ticket_id] = int(qty)
            if len(cart.items) >= MAX_LINES:
                break
        return cart

    def dump(self) -> str:
        return ",".join(f"{t}:{q}" for t, q in self.items.items()) + "|" + self.key

    def add(self, ticket_id: str, quantity: int) -> str | None:
        """Adds; returns a reason when it cannot."""
        if not _TICKET_ID.match(ticket_id):
            return "That ticket does not exist."
        if quantity < 1:
            return "Quantity must be at least 1."
        if ticket_id not in self.items and len(self.items) >= MAX_LINES:
            return f"A cart holds at most {MAX_LINES} kinds of ticket."
        new = self.items.get(ticket_id, 0) + quantity
        if new > MAX_QUANTITY:
            return f"At most {MAX_QUANTITY} of one ticket per order."
        self.items[ticket_id] = new
        return None

    def set_quantity(self, ticket_id: str, quantity: int) -> str | None:
        if ticket_id not in self.items:
            return "That ticket is not in your cart."
        if quantity < 1 or quantity > MAX_QUANTITY:
            return f"Quantity must be between 1 and {MAX_QUANTITY}."
        self.items[ticket_id] = quantity
        return None

    def remove(self, ticket_id: str) -> None:
        self.items.pop(ticket_id, None)

    def renew(self) -> None:
        self.items.clear()
        self.key = str(uuid.uuid4())
