"""Fair limits: at most N of a ticket type per buyer across all their orders, enforced with the stock in
one transaction (real SQLite, and PostgreSQL with real concurrency)."""
import asyncio
import uuid

import pytest
from pydantic import ValidationError

from festflow_contracts import events, messages
from festflow_contracts.messages import CancelOrder
from inventory_service.cancellation import cancel_order
from inventory_service.reservation import parse_command, place_order
from inventory_service.ticket_admin import TicketPatch, update_ticket


def order(username, quantity, ticket_id="vip-weekend", email=None):
    return parse_command({"type": events.PLACE_ORDER, "data": {
        "order_id": str(uuid.uuid4()), "username": username, "email": email or f"{username}@x",
        "items": [{"ticket_id": ticket_id, "quantity": quantity}]}})


async def test_a_buyer_gets_at_most_the_limit_across_orders_and_others_are_not_affected(engine):
    await update_ticket(engine, "vip-weekend", TicketPatch(per_buyer_limit=4))
    assert (await place_order(engine, order("ann", 3))).status == "CONFIRMED"
    over = await place_order(engine, order("ann", 2))
    assert over.status == "REJECTED" and over.reason == "at most 4 VIP Weekend per buyer: you have 3 already"
    assert (await place_order(engine, order("ann", 1))).status == "CONFIRMED"
    assert (await place_order(engine, order("bob", 4))).status == "CONFIRMED"  # a limit per buyer
    too_many = await place_order(engine, order("cat", 5))
    assert too_many.reason == "at most 4 VIP Weekend per buyer"
    assert (await place_order(engine, order("cat", 5, "camping-pass"))).status == "CONFIRMED"  # per type


async def test_parallel_orders_of_one_buyer_cannot_pass_the_limit(engine):
    await update_ticket(engine, "vip-weekend", TicketPatch(per_buyer_limit=4))

    async def attempt():
        for _ in range(20):  # a concurrent first order may lose the race for the buyer's row: it is retried
            try:
                return await place_order(engine, order("dan", 1))
            except Exception:
                await asyncio.sleep(0.01)
        raise AssertionError("never placed")
    outcomes = await asyncio.gather(*(attempt() for _ in range(10)))
    assert sorted(o.status for o in outcomes) == ["CONFIRMED"] * 4 + ["REJECTED"] * 6


async def test_a_cancelled_order_gives_its_buyer_the_allowance_back(engine):
    await update_ticket(engine, "vip-weekend", TicketPatch(per_buyer_limit=2))
    first = await place_order(engine, order("eve", 2))
    assert (await place_order(engine, order("eve", 1))).status == "REJECTED"
    await cancel_order(engine, CancelOrder(order_id=first.order_id, username="eve", email="eve@x", reason="r"))
    assert (await place_order(engine, order("eve", 2))).status == "CONFIRMED"


async def test_accounts_of_one_mailbox_share_one_allowance_and_a_cancellation_gives_it_back(engine):
    await update_ticket(engine, "vip-weekend", TicketPatch(per_buyer_limit=4))
    first = await place_order(engine, order("fay", 3, email="fay@example.org"))
    assert first.status == "CONFIRMED"
    second = await place_order(engine, order("fay2", 2, email=" FAY@example.org"))  # another account, one mailbox
    assert second.status == "REJECTED"
    assert second.reason == "at most 4 VIP Weekend per buyer: this email address has 3 already"
    assert (await place_order(engine, order("fay2", 1, email="fay@example.org"))).status == "CONFIRMED"
    assert (await place_order(engine, order("gus", 4, email="gus@example.org"))).status == "CONFIRMED"
    await cancel_order(engine, CancelOrder(order_id=first.order_id, username="fay", email="fay@example.org",
                                           reason="r"))
    assert (await place_order(engine, order("fay2", 3, email="fay@example.org"))).status == "CONFIRMED"


async def test_the_limit_is_set_cleared_and_announced(engine):
    ticket = await update_ticket(engine, "vip-weekend", TicketPatch(per_buyer_limit="6"))
    assert ticket["per_buyer_limit"] == 6
    assert (await update_ticket(engine, "vip-weekend", TicketPatch(per_buyer_limit="")))["per_buyer_limit"] is None
    for bad in (-1, 1001, "four", 2.5):
        with pytest.raises(ValidationError, match="per_buyer_limit"):
            TicketPatch(per_buyer_limit=bad)
    changed = messages.parse(events.decode(events.encode(messages.envelope(messages.TicketChanged(
        **{**ticket, "price": "249.00", "change": "updated"}), "/t"))), messages.TicketChanged)
    assert changed.per_buyer_limit == 6
