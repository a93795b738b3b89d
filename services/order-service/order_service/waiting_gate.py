"""The waiting room's gate at checkout: while the organiser's waiting room is on (WAITING_ROOM_CHANGED on the
catalog events: enabled, and its pre-queue open), an order needs the buyer's pass (festflow_contracts.
waiting_pass), checked here by its signature alone: no call to the waiting room on the checkout's path. Each
pass places one order (its id is kept with the order, unique: ordering.py)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from festflow_contracts import events, waiting_pass
from festflow_contracts.messages import WaitingRoomChanged
from festflow_contracts.tokens import Identity
from order_service.ordering import OrderRefused

WHERE = "/cart/waiting-room"  # the waiting page (mf-cart)


class PassRequired(OrderRefused):
    status = 403


class WaitingGate:
    def __init__(self, secret: str):
        self.secret = secret
        self.room: WaitingRoomChanged | None = None

    def apply(self, room: WaitingRoomChanged) -> None:
        """The room as the waiting room announced it (the newest version wins)."""
        if self.room is None or room.version >= self.room.version:
            self.room = room

    def view(self) -> dict[str, Any] | None:
        """The waiting room while it is on (GET /api/festival shows it), else None."""
        room = self.room
        return {"prequeue_opens_at": room.opens_at, "sale_starts_at": room.starts_at,
                "ticket_ids": list(room.ticket_ids)} if room and room.enabled else None

    def required(self, ticket_ids: Sequence[str] = (), now: datetime | None = None) -> bool:
        """Whether an order of these ticket types needs a pass now (any type: whether the room is on)."""
        room = self.room
        if not (room and room.enabled and events.iso(now or datetime.now(UTC)) >= room.opens_at):
            return False
        return not room.ticket_ids or not ticket_ids or any(t in room.ticket_ids for t in ticket_ids)

    def admit(self, buyer: Identity, token: str | None, ticket_ids: Sequence[str] = (),
              now: datetime | None = None) -> str | None:
        """The id of the pass this checkout (of these ticket types) spends, None while no pass is needed;
        PassRequired with the reason (and where to queue) when one is needed and this is none: missing, forged,
        another's or expired."""
        moment = now or datetime.now(UTC)
        if not self.required(ticket_ids, moment):
            return None
        if not token:
            raise PassRequired(f"this sale has a waiting room: join it at {WHERE} and check out when it is your "
                               "turn")
        try:
            return waiting_pass.verify(token, self.secret, buyer.username, moment.timestamp()).pass_id
        except waiting_pass.InvalidPass as refused:
            raise PassRequired(f"{refused} (the waiting room: {WHERE})") from None

