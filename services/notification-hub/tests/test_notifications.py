
import pytest

from festflow_contracts import events
from festflow_contracts.fixtures import sample
from notification_hub.connections import Connections
from notification_hub.notifications import notification_for


@pytest.mark.parametrize("confirmed", [events.ORDER_CONFIRMED, "festflow.ticket.sold.v1"])  # new and old name
def test_a_confirmed_order_becomes_a_confirmation_for_the_buyer(confirmed):
    line = {"ticket_id": "vip", "name": "VIP", "unit_price_cents": 100}
    event = sample(confirmed, order_id="o1", username="guest", total_cents=12345,  # the inventory's sample
                   items=[{**line, "quantity": 2}, {**line, "quantity": 1}])
    username, note = notification_for(event)
    assert username == "guest"
    assert note["kind"] == "order.confirmed" and note["order_id"] == "o1" and note["id"] == event["id"]
    assert note["message"] == "3 tickets confirmed, total €123.45"


def test_rejection_carries_the_reason():
    event = sample(events.ORDER_REJECTED, order_id="o1", username="guest", reason="sold out")
    assert notification_for(event)[1]["message"] == "sold out"


def test_a_cancellation_tells_its_buyer_why():
    username, note = notification_for(sample(events.ORDER_CANCELLED, username="guest", reason="event moved"))
    assert username == "guest" and note["kind"] == "order.cancelled" and note["message"].startswith("event moved")


def test_other_events_notify_nobody():
    assert notification_for(sample(events.TICKET_TYPE_CHANGED)) is None


def test_a_sold_event_without_its_buyer_is_refused_not_guessed():
    from festflow_contracts.messages import InvalidMessage
    event = sample(events.ORDER_CONFIRMED)
    del event["data"]["username"]
    with pytest.raises(InvalidMessage, match="username"):
        notification_for(event)


class FakeSocket:
    def __init__(self, fail=False):
        self.sent, self.fail = [], fail

    async def send_json(self, message):
        if self.fail:
            raise RuntimeError("closed")
        self.sent.append(message)


async def test_messages_reach_only_the_users_own_sockets():
    conns = Connections()
    a1, a2, b = FakeSocket(), FakeSocket(), FakeSocket()
    conns.add("alice", a1)
    conns.add("alice", a2)
    conns.add("bob", b)
    assert await conns.send("alice", {"n": 1}) == 2
    assert a1.sent == a2.sent == [{"n": 1}] and b.sent == []


async def test_broken_sockets_are_dropped():
    conns = Connections()
    good, bad = FakeSocket(), FakeSocket(fail=True)
    conns.add("alice", good)
    conns.add("alice", bad)
    assert await conns.send("alice", {}) == 1
    assert conns.count() == 1


def _note(i, time="2026-12-01T12:00:00.000Z"):
    return {"id": f"e{i}", "kind": "order.confirmed", "order_id": f"o{i}", "time": time}


def test_history_keeps_each_event_once_and_replays_what_a_page_may_have_missed():
    from datetime import UTC, datetime

    from notification_hub.history import NotificationHistory
    now = datetime(2026, 12, 1, 13, tzinfo=UTC)
    history = NotificationHistory(per_buyer=4)
    for i, minute in enumerate((0, 20, 30, 31)):
        assert history.add("alice", _note(i, f"2026-12-01T12:{minute:02d}:00Z"), now)
    assert not history.add("alice", _note(3, "2026-12-01T12:31:00Z"), now)  # the same event again: once
    # from 5 minutes before the last note the page saw: a little more than it missed, never less
    assert [n["id"] for n in history.since("alice", "e2")] == ["e2", "e3"]
    assert [n["id"] for n in history.since("alice", "gone", "2026-12-01T12:19:00Z")] == ["e1", "e2", "e3"]
    assert len(history.since("alice", "gone")) == 4  # an id without a time: all that is kept
    assert history.since("alice", None) == [] and history.since("bob", "e1") == []
    assert not history.add("alice", _note(9, "2026-11-01T00:00:00Z"), now)  # older than the horizon


def test_a_full_history_lets_the_oldest_by_time_go_not_the_last_to_arrive():
    from datetime import UTC, datetime

    from notification_hub.history import NotificationHistory
    now = datetime(2026, 12, 1, 13, tzinfo=UTC)
    history = NotificationHistory(per_buyer=2)
    history.add("alice", _note(1, "2026-12-01T12:50:00Z"), now)  # the newest arrives first (another partition)
    history.add("alice", _note(2, "2026-12-01T12:00:00Z"), now)
    history.add("alice", _note(3, "2026-12-01T12:01:00Z"), now)
    assert {n["id"] for n in history.since("alice", "gone", "2026-12-01T11:00:00Z")} == {"e1", "e3"}


async def test_the_hub_as_wired_pushes_an_event_once_to_its_buyers_pages_only():
    from festflow_contracts.tokens import generate_keypair
    from notification_hub.main import build
    from notification_hub.settings import Settings

    class Page:
        def __init__(self):
            self.got = []

        async def send_json(self, message):
            self.got.append(message)

    hub = build(Settings(jwt_public_key=generate_keypair()[1]))  # as the hub wires itself; no Kafka started
    mine, theirs = Page(), Page()
    hub.connections.add("guest", mine)
    hub.connections.add("other", theirs)
    event = {**sample(events.ORDER_CONFIRMED, username="guest"), "time": events.now_iso()}  # (older ones are dropped)
    await hub.push(event)
    await hub.push(event)  # delivered twice
    assert [note["id"] for note in mine.got] == [event["id"]] and theirs.got == []


def test_the_steps_of_paying_an_order_reach_its_buyers_bell():
    held = notification_for(sample(events.ORDER_HELD, username="guest", total_cents=49800,
                                   due_at="2027-03-06T10:00:00.000Z"))
    assert held[0] == "guest" and held[1]["kind"] == "order.awaiting-payment"
    assert held[1]["message"] == "pay €498.00 by 06 Mar 2027, 10:00 UTC"
    expired = notification_for(sample(events.ORDER_EXPIRED, username="guest"))[1]
    assert expired["kind"] == "order.expired" and "back on sale" in expired["message"]
    refund = notification_for(sample(events.ORDER_REFUND_DUE, username="guest", amount_cents=8900,
                                     reason="paid after it was cancelled"))[1]
    assert refund["kind"] == "order.refund-due" and refund["message"] == "€89.00: paid after it was cancelled"
    abandoned = notification_for(sample(events.ORDER_CANCELLED, username="guest", reason="abandoned", unpaid=True))[1]
    assert abandoned["message"] == "abandoned; nothing is owed"
