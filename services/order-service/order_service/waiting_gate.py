"""The waiting room's gate at checkout: while the organiser's waiting room is on (WAITING_ROOM_CHANGED on the
catalog events: enabled, and its pre-queue open), an order needs the buyer's pass (festflow_contracts.
waiting_pass), checked here by its signature alone: no call to the waiting room on the checkout's path. Each
pass places one order (its id is kept with the order, unique: ordering.py)."""
from __future__ import annotations

from datetime import UTC, datetime

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

    def view(self) -> dict[str, str] | None:
        """The waiting room while it is on (GET /api/festival shows it), else None."""
        room = self.room
        return {"opens_at": room.opens_at, "starts_at": room.starts_at} if room and room.enabled else None

    def required(self, now: datetime | None = None) -> bool:
        room = self.room
        return bool(room and room.enabled and events.iso(now or datetime.now(UTC)) >= room.opens_at)

    def admit(self, buyer: Identity, token: str | None, now: datetime | None = None) -> str | None:
        """The id of the pass this checkout spends, None while no pass is needed; PassRequired with the reason
        (and where to queue) when one is needed and this is none: missing, forged, another's or expired."""
        moment = now or datetime.now(UTC)
        if not self.required(moment):
            return None
        if not token:
            raise PassRequired(f"this sale has a waiting room: join it at {WHERE} and check out when it is your "
                               "turn")
        try:
            return waiting_pass.verify(token, self.secret, buyer.username, moment.timestamp()).pass_id
        except waiting_pass.InvalidPass as refused:
            raise PassRequired(f"{refused} (the waiting room: {WHERE})") from None

