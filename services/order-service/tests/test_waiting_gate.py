"""The waiting room's gate at checkout (service layer, real SQLite/PostgreSQL): while the organiser's waiting
room is on, an order needs the buyer's pass; a pass places one order (its retry with the same key answers the
same order); a forged, another's or expired pass is refused with the reason and where to queue."""
import time
from datetime import UTC, datetime, timedelta

import pytest

from festflow_contracts import events, messages, waiting_pass
from festflow_contracts.fixtures import sample
from festflow_contracts.messages import WaitingRoomChanged
from festflow_contracts.tokens import Identity
from order_service.ordering import OrderLine, PassUsed
from order_service.waiting_gate import PassRequired, WaitingGate

from .conftest import checkout_of

SECRET = "gate-secret"
ANNA = Identity("anna", "client", "anna@x.org")
BEN = Identity("ben", "client", "ben@x.org")


def room(enabled=True, opens=-60, version=1):
    """The waiting room's announcement as it sends it (its recorded sample), opened `opens` seconds from now."""
    opens_at = events.iso(datetime.now(UTC) + timedelta(seconds=opens))
    return messages.parse(sample(events.WAITING_ROOM_CHANGED, enabled=enabled, opens_at=opens_at, version=version),
                          WaitingRoomChanged)


def pass_for(who, pass_id="7.1700000000000", minutes=10, secret=SECRET):
    return waiting_pass.sign(waiting_pass.Pass(who.username, "festival", pass_id,
                                               int(time.time()) + minutes * 60), secret)


async def test_while_the_room_is_on_an_order_needs_a_pass_and_a_pass_places_one_order(engine, catalog):
    gate = WaitingGate(SECRET)
    checkout = checkout_of(engine, catalog, gate=gate)
    free = await checkout.place(ANNA, "k0", [OrderLine("vip", 1)])  # no room: no pass needed
    assert free.created and free.order["pass_id"] is None
    gate.apply(room())
    with pytest.raises(PassRequired, match="join it at /cart/waiting-room") as refused:
        await checkout.place(ANNA, "k1", [OrderLine("vip", 1)])
    assert refused.value.status == 403
    mine = pass_for(ANNA)
    placed = await checkout.place(ANNA, "k1", [OrderLine("vip", 1)], pass_token=mine)
    assert placed.created and placed.order["pass_id"] == "7.1700000000000"
    again = await checkout.place(ANNA, "k1", [OrderLine("vip", 1)], pass_token=mine)  # a retry: the same order
    assert not again.created and again.order["order_id"] == placed.order["order_id"]
    with pytest.raises(PassUsed):
        await checkout.place(ANNA, "k2", [OrderLine("vip", 1)], pass_token=mine)
    # a retry of the first order after the pass ran out still gets that order back
    expired = pass_for(ANNA, minutes=-1)
    assert (await checkout.place(ANNA, "k1", [OrderLine("vip", 1)], pass_token=expired)).order["order_id"] == \
        placed.order["order_id"]


@pytest.mark.parametrize(("token", "reason"), [
    (lambda: pass_for(ANNA, secret="forged"), "not genuine"),
    (lambda: pass_for(BEN), "another account's"),
    (lambda: pass_for(ANNA, minutes=-1), "expired"),
    (lambda: "garbage", "malformed"),
])
def test_a_pass_that_is_not_this_buyers_valid_one_is_refused_with_the_reason(token, reason):
    gate = WaitingGate(SECRET)
    gate.apply(room())
    with pytest.raises(PassRequired, match=reason):
        gate.admit(ANNA, token())


def test_the_room_counts_from_its_opening_and_the_newest_announcement_wins():
    gate = WaitingGate(SECRET)
    gate.apply(room(opens=60, version=2))
    assert not gate.required() and gate.admit(ANNA, None) is None  # not open yet
    gate.apply(room(opens=-60, version=1))  # an older announcement changes nothing
    assert not gate.required()
    gate.apply(room(enabled=False, opens=-60, version=3))
    assert not gate.required()
    gate.apply(room(opens=-60, version=4))
    assert gate.required()


def test_a_room_in_front_of_some_ticket_types_wants_a_pass_only_for_orders_of_them():
    gate = WaitingGate(SECRET)
    drop_room = room().model_copy(update={"ticket_ids": ("drop",)})
    gate.apply(drop_room)
    assert gate.admit(ANNA, None, ["camping"]) is None  # another ticket type: no queue for it
    with pytest.raises(PassRequired):
        gate.admit(ANNA, None, ["camping", "drop"])
    assert gate.admit(ANNA, pass_for(ANNA), ["drop"]) == "7.1700000000000"
    assert gate.view() == {"prequeue_opens_at": drop_room.opens_at, "sale_starts_at": drop_room.starts_at,
                           "ticket_ids": ["drop"]}
