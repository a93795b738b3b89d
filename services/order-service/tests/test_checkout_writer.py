"""The group commit of checkouts (ordering.CheckoutWriter): checkouts that arrive together are written in
one transaction, and each answers exactly as it would have alone (on SQLite and PostgreSQL)."""
import asyncio

import pytest
import sqlalchemy as sa

from festflow_contracts import events
from festflow_contracts.tokens import Identity
from order_service import carts, db, registration
from order_service.ordering import (
    BuyerNotVerified,
    CartChanged,
    Checkout,
    CheckoutWriter,
    FromCart,
    KeyReused,
    Limits,
    OrderLine,
    VerifiedBuyers,
)
from order_service.registration import SignUp


def buyer(n: int) -> Identity:
    return Identity(f"buyer{n}", "client", f"buyer{n}@example.org")


async def stored(engine):
    async with engine.connect() as conn:
        orders = (await conn.execute(sa.select(db.orders))).mappings().all()
        commands = (await conn.execute(sa.select(db.command_outbox))).mappings().all()
    return {o["order_id"]: o for o in orders}, {c["message_id"]: c for c in commands}


async def test_checkouts_that_arrive_together_are_written_in_one_transaction_each_with_its_command(engine, catalog):
    writer = CheckoutWriter(engine, VerifiedBuyers())
    place = Checkout(engine, catalog, Limits(), writer).place
    placed = await asyncio.gather(*(place(buyer(n), f"k{n}", [OrderLine("vip", 1 + n % 3)]) for n in range(30)))
    assert writer.batcher.batches == 1
    assert all(p.created for p in placed)
    orders, commands = await stored(engine)
    assert set(orders) == set(commands) == {p.order["order_id"] for p in placed}
    for n, p in enumerate(placed):
        row = orders[p.order["order_id"]]
        assert (row["username"], row["idempotency_key"], row["status"]) == (f"buyer{n}", f"k{n}", "PENDING")
        assert row["items"][0]["quantity"] == 1 + n % 3
        command = events.decode(commands[p.order["order_id"]]["payload"])
        assert command["data"]["username"] == f"buyer{n}" and command["data"]["items"][0]["quantity"] == 1 + n % 3


async def test_a_retry_in_a_batch_gets_its_first_order_back_and_a_reused_key_is_refused(engine, catalog):
    writer = CheckoutWriter(engine)
    place = Checkout(engine, catalog, Limits(), writer).place
    first = await place(buyer(1), "k1", [OrderLine("vip", 2)])
    results = await asyncio.gather(
        place(buyer(1), "k1", [OrderLine("vip", 2)]),  # retry
        place(buyer(1), "k1", [OrderLine("vip", 3)]),  # reused
        place(buyer(2), "k1", [OrderLine("vip", 1)]),  # new
        place(buyer(3), "k3", [OrderLine("vip", 1)]),  # new
        return_exceptions=True)
    retry, reused, other, new = results
    assert not retry.created and retry.order["order_id"] == first.order["order_id"]
    assert isinstance(reused, KeyReused)
    assert other.created and new.created
    orders, commands = await stored(engine)
    assert set(orders) == set(commands) == {first.order["order_id"], other.order["order_id"], new.order["order_id"]}


async def test_the_same_new_key_twice_in_one_batch_is_one_order(engine, catalog):
    place = Checkout(engine, catalog, Limits(), CheckoutWriter(engine)).place
    a, b = await asyncio.gather(*(place(buyer(1), "k1", [OrderLine("vip", 1)]) for _ in range(2)))
    assert a.order["order_id"] == b.order["order_id"] and [a.created, b.created].count(True) == 1
    orders, commands = await stored(engine)
    assert len(orders) == len(commands) == 1


async def test_a_buyer_who_has_not_confirmed_the_address_is_refused_and_the_rest_of_the_batch_placed(engine, catalog):
    async def fake_hash(password: str) -> str:
        return "hash:" + password

    await registration.register(engine, SignUp(username="anna", email="anna@example.org",
                                               password="correct horse battery"), fake_hash)
    verified = VerifiedBuyers()
    writer = CheckoutWriter(engine, verified)
    place = Checkout(engine, catalog, Limits(), writer).place
    anna = Identity("anna", "client", "anna@example.org")
    results = await asyncio.gather(
        place(buyer(1), "k1", [OrderLine("vip", 1)]),
        place(anna, "k2", [OrderLine("vip", 1)]),
        place(buyer(2), "k3", [OrderLine("vip", 1)]),
        return_exceptions=True)
    assert writer.batcher.batches == 1
    assert isinstance(results[1], BuyerNotVerified) and results[1].status == 403
    assert results[0].created and results[2].created
    orders, _ = await stored(engine)
    assert {o["username"] for o in orders.values()} == {"buyer1", "buyer2"}
    assert "anna" not in verified and "buyer1" in verified and "buyer2" in verified


def test_a_full_set_of_verified_buyers_forgets_its_oldest_quarter_and_keeps_the_newest():
    verified = VerifiedBuyers(size=8)
    for n in range(8):
        verified.add(f"b{n}")
    verified.add("b3")  # known already: nothing is forgotten
    assert all(f"b{n}" in verified for n in range(8))
    verified.add("new")
    assert [f"b{n}" in verified for n in range(8)] == [False, False] + [True] * 6
    assert "new" in verified


async def test_cart_checkouts_share_the_batch_and_a_changed_cart_is_refused_alone(engine, catalog):
    """The cart's checkout goes through the same group commit as `POST /api/orders`: the cart is emptied in
    the batch's transaction, and a cart that changed since the buyer saw it refuses only its own order."""
    writer = CheckoutWriter(engine)
    place = Checkout(engine, catalog, Limits(), writer).place
    mine, theirs = carts.user_cart("buyer1"), carts.user_cart("buyer2")
    seen = await carts.add(engine, catalog, Limits(), mine, "vip", 2)
    stale = await carts.add(engine, catalog, Limits(), theirs, "vip", 1)
    await carts.add(engine, catalog, Limits(), theirs, "camping", 1)  # changed after the buyer saw it
    results = await asyncio.gather(
        place(buyer(1), "cart-checkout-v1", [OrderLine("vip", 2)], from_cart=FromCart(mine, seen.version)),
        place(buyer(2), "cart-checkout-v1", [OrderLine("vip", 1)], from_cart=FromCart(theirs, stale.version)),
        place(buyer(3), "k3", [OrderLine("vip", 1)]),
        return_exceptions=True)
    assert writer.batcher.batches == 1
    from_cart, refused, plain = results
    assert from_cart.created and plain.created
    assert isinstance(refused, CartChanged) and refused.status == 409
    emptied = await carts.view(engine, mine)
    assert emptied.lines == [] and emptied.last_order["order_id"] == from_cart.order["order_id"]
    assert {line.ticket_id for line in (await carts.view(engine, theirs)).lines} == {"vip", "camping"}
    orders, commands = await stored(engine)
    assert set(orders) == set(commands) == {from_cart.order["order_id"], plain.order["order_id"]}


@pytest.mark.parametrize("size", [1, 7])
async def test_more_checkouts_than_a_batch_holds_are_written_in_several(engine, catalog, size):
    writer = CheckoutWriter(engine, max_size=size)
    place = Checkout(engine, catalog, Limits(), writer).place
    placed = await asyncio.gather(*(place(buyer(n), f"k{n}", [OrderLine("vip", 1)]) for n in range(20)))
    assert writer.batcher.batches == -(-20 // size)
    orders, commands = await stored(engine)
    assert len(orders) == len(commands) == 20 == len({p.order["order_id"] for p in placed})
