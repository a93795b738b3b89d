"""Carts (service layer) on a real SQLite file with a fake catalog: quantities, merging, and a checkout
that no late refresh can undo, with its order's outcome coming back through the status projection."""
import pytest

from festflow_contracts import events
from festflow_contracts.fixtures import sample
from festflow_contracts.tokens import Identity
from order_service import carts
from order_service.bootstrap import status_projection
from order_service.carts import CartChanged, CartRefused
from order_service.ordering import Limits

from .conftest import checkout_of

GUEST = Identity("guest", "client", "guest@festflow.local")
LIMITS = Limits(max_quantity_per_item=10, max_items_per_order=2)
MINE = carts.user_cart("guest")


def lines(cart):
    return {line.ticket_id: line.quantity for line in cart.lines}


async def test_adding_sums_up_to_the_limit_and_keeps_names(engine, catalog):
    await carts.add(engine, catalog, LIMITS, MINE, "vip", 6)
    with pytest.raises(CartRefused, match="At most 10 of one ticket per order; 6 already in your cart."):
        await carts.add(engine, catalog, LIMITS, MINE, "vip", 5)
    cart = await carts.add(engine, catalog, LIMITS, MINE, "vip", 4)
    assert lines(cart) == {"vip": 10} and cart.lines[0].name == "VIP Weekend"


async def test_unknown_tickets_too_many_kinds_and_bad_quantities_change_nothing(engine, catalog):
    catalog.tickets["third"] = {"id": "third", "name": "Third", "price_cents": 1, "stock": 1}
    await carts.add(engine, catalog, LIMITS, MINE, "vip", 1)
    await carts.add(engine, catalog, LIMITS, MINE, "camping", 1)
    before = await carts.view(engine, MINE)
    for call, reason in [
        (carts.add(engine, catalog, LIMITS, MINE, "nope", 1), "not on sale"),
        (carts.add(engine, catalog, LIMITS, MINE, "third", 1), "at most 2 kinds"),
        (carts.add(engine, catalog, LIMITS, MINE, "vip", 0), "at least 1"),
        (carts.set_quantity(engine, LIMITS, MINE, "vip", -1), "between 1 and 10"),
        (carts.set_quantity(engine, LIMITS, MINE, "vip", 11), "between 1 and 10"),
        (carts.set_quantity(engine, LIMITS, MINE, "nope", 2), "not in your cart"),
    ]:
        with pytest.raises(CartRefused, match=reason):
            await call
    after = await carts.view(engine, MINE)
    assert (lines(after), after.version) == (lines(before), before.version)


async def test_quantity_zero_removes_the_line(engine, catalog):
    await carts.add(engine, catalog, LIMITS, MINE, "vip", 2)
    cart = await carts.set_quantity(engine, LIMITS, MINE, "vip", 3)
    assert lines(cart) == {"vip": 3}
    assert lines(await carts.set_quantity(engine, LIMITS, MINE, "vip", 0)) == {}


async def test_an_anonymous_cart_merges_into_the_account_once_and_is_gone(engine, catalog):
    anonymous = carts.anonymous_cart("7b0e6c4e-0f43-4a36-9a43-1f2f6f7c1e11")
    await carts.add(engine, catalog, LIMITS, anonymous, "vip", 8)
    await carts.add(engine, catalog, LIMITS, anonymous, "camping", 1)
    await carts.add(engine, catalog, LIMITS, MINE, "vip", 5)
    merged = await carts.merge(engine, LIMITS, anonymous, MINE)
    assert lines(merged) == {"vip": 10, "camping": 1}  # capped at the per-ticket limit
    assert lines(await carts.merge(engine, LIMITS, anonymous, MINE)) == {"vip": 10, "camping": 1}
    assert lines(await carts.view(engine, anonymous)) == {}  # the next person on that browser: empty


def test_cart_tokens_must_be_uuids():
    with pytest.raises(CartRefused):
        carts.anonymous_cart("guest")


async def test_checkout_empties_the_cart_in_the_order_transaction_and_a_retry_gets_the_same_order(
        engine, catalog):
    cart = await carts.add(engine, catalog, LIMITS, MINE, "vip", 2)
    placed = await carts.checkout(engine, checkout_of(engine, catalog, LIMITS), GUEST, cart.version)
    assert placed.created and placed.order["items"][0]["quantity"] == 2
    after = await carts.view(engine, MINE)
    assert lines(after) == {} and after.last_order["order_id"] == placed.order["order_id"]
    retry = await carts.checkout(engine, checkout_of(engine, catalog, LIMITS), GUEST, cart.version)
    assert not retry.created and retry.order["order_id"] == placed.order["order_id"]
    # the next checkout is a new order with a new key
    cart = await carts.add(engine, catalog, LIMITS, MINE, "vip", 2)
    second = await carts.checkout(engine, checkout_of(engine, catalog, LIMITS), GUEST, cart.version)
    assert second.created and second.order["order_id"] != placed.order["order_id"]
    assert second.order["idempotency_key"] != placed.order["idempotency_key"]


async def test_checkout_of_a_cart_that_changed_since_it_was_shown_is_409(engine, catalog):
    seen = await carts.add(engine, catalog, LIMITS, MINE, "vip", 2)
    await carts.add(engine, catalog, LIMITS, MINE, "camping", 1)
    with pytest.raises(CartChanged) as refused:
        await carts.checkout(engine, checkout_of(engine, catalog, LIMITS), GUEST, seen.version)
    assert refused.value.status == 409
    assert lines(await carts.view(engine, MINE)) == {"vip": 2, "camping": 1}


async def test_checkout_of_an_empty_cart_is_refused(engine, catalog):
    with pytest.raises(CartRefused, match="empty"):
        await carts.checkout(engine, checkout_of(engine, catalog, LIMITS), GUEST, 0)


def outcome(type_, order_id, **data):
    """The inventory's recorded sample of this outcome, about our order."""
    return sample(type_, order_id=order_id, **data)


async def test_a_rejected_order_puts_its_lines_back_with_the_reason_once(engine, catalog):
    cart = await carts.add(engine, catalog, LIMITS, MINE, "vip", 3)
    placed = await carts.checkout(engine, checkout_of(engine, catalog, LIMITS), GUEST, cart.version)
    order_id = placed.order["order_id"]
    rejected = outcome(events.ORDER_REJECTED, order_id, reason="only 2 VIP Weekend left, 3 requested")
    projection = status_projection(engine, LIMITS)
    await projection.apply(rejected)
    await projection.apply(rejected)  # a re-sent event changes nothing
    back = await carts.view(engine, MINE)
    assert lines(back) == {"vip": 3} and back.lines[0].name == "VIP Weekend"
    assert "only 2 VIP Weekend left" in back.notice
    assert back.last_order["status"] == "REJECTED"
    # the restored cart checks out as a new order
    again = await carts.checkout(engine, checkout_of(engine, catalog, LIMITS), GUEST, back.version)
    assert again.created and again.order["order_id"] != order_id


async def test_a_confirmed_order_leaves_the_cart_empty(engine, catalog):
    cart = await carts.add(engine, catalog, LIMITS, MINE, "vip", 1)
    placed = await carts.checkout(engine, checkout_of(engine, catalog, LIMITS), GUEST, cart.version)
    order_id = placed.order["order_id"]
    await status_projection(engine, LIMITS).apply(outcome(
        events.ORDER_CONFIRMED, order_id, total_cents=24900,
        items=[{"ticket_id": "vip", "name": "VIP Weekend", "quantity": 1, "unit_price_cents": 24900}]))
    after = await carts.view(engine, MINE)
    assert lines(after) == {} and after.last_order["status"] == "CONFIRMED"
