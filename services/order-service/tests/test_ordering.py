"""Order placement (service layer) against a fake catalog and a real SQLite file: limits, idempotency and
its 409, and the order row with its command committed together in the outbox."""

import pytest
import sqlalchemy as sa

from festflow_contracts import events, fixtures
from festflow_contracts.tokens import Identity
from order_service import carts, db
from order_service.inventory_client import InventoryUnavailable
from order_service.ordering import CartChanged, FromCart, InvalidOrder, KeyReused, Limits, OrderLine

from .conftest import checkout_of

LIMITS = Limits(max_quantity_per_item=10, max_items_per_order=2)

GUEST = Identity("guest", "client", "guest@festflow.local")


async def outbox_rows(engine):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(db.command_outbox))).mappings().all()


async def test_an_accepted_order_and_its_command_are_committed_together(engine, catalog):
    placed = await checkout_of(engine, catalog, LIMITS).place(GUEST, "k1", [OrderLine("vip", 2)])
    assert placed.created and placed.order["status"] == "PENDING"
    assert placed.order["items"] == [{"ticket_id": "vip", "name": "VIP Weekend", "quantity": 2,
                                      "unit_price_cents": 24900}]
    assert placed.order["total_cents"] == 2 * 24900  # as quoted; the confirmation brings the charged total
    [row] = await outbox_rows(engine)
    command = events.decode(row["payload"])
    assert row["message_id"] == placed.order["order_id"] and row["sent_at"] is None
    assert command["type"] == events.PLACE_ORDER == row["type"]
    assert command["data"] == {"order_id": placed.order["order_id"], "username": "guest",
                               "email": "guest@festflow.local", "items": [{"ticket_id": "vip", "quantity": 2}]}
    fixtures.record(command)  # the sample the inventory's tests handle


async def test_the_same_key_gives_the_same_order_and_one_command(engine, catalog):
    first = await checkout_of(engine, catalog, LIMITS).place(GUEST, "k1", [OrderLine("vip", 2)])
    again = await checkout_of(engine, catalog, LIMITS).place(GUEST, "k1", [OrderLine("vip", 2)])
    assert not again.created and again.order["order_id"] == first.order["order_id"]
    assert len(await outbox_rows(engine)) == 1


async def test_the_same_key_with_other_lines_is_refused_with_409(engine, catalog):
    await checkout_of(engine, catalog, LIMITS).place(GUEST, "k1", [OrderLine("vip", 2)])
    with pytest.raises(KeyReused, match="different order") as refused:
        await checkout_of(engine, catalog, LIMITS).place(GUEST, "k1", [OrderLine("vip", 3)])
    assert refused.value.status == 409


async def test_keys_belong_to_one_buyer(engine, catalog):
    other = Identity("other", "client", "o@x")
    a = await checkout_of(engine, catalog, LIMITS).place(GUEST, "k1", [OrderLine("vip", 1)])
    b = await checkout_of(engine, catalog, LIMITS).place(other, "k1", [OrderLine("vip", 2)])
    assert a.created and b.created and a.order["order_id"] != b.order["order_id"]
    assert (a.order["username"], b.order["username"]) == ("guest", "other")
    commands = {row["message_id"]: events.decode(row["payload"])["data"] for row in await outbox_rows(engine)}
    assert {order_id: (c["username"], c["items"]) for order_id, c in commands.items()} == {
        a.order["order_id"]: ("guest", [{"ticket_id": "vip", "quantity": 1}]),
        b.order["order_id"]: ("other", [{"ticket_id": "vip", "quantity": 2}])}


async def test_a_retry_is_answered_even_when_its_ticket_is_no_longer_on_sale(engine, catalog):
    first = await checkout_of(engine, catalog, LIMITS).place(GUEST, "k1", [OrderLine("vip", 1)])
    del catalog.tickets["vip"]
    again = await checkout_of(engine, catalog, LIMITS).place(GUEST, "k1", [OrderLine("vip", 1)])
    assert again.order["order_id"] == first.order["order_id"]
    with pytest.raises(InvalidOrder, match="unknown ticket: vip"):
        await checkout_of(engine, catalog, LIMITS).place(GUEST, "k2", [OrderLine("vip", 1)])


@pytest.mark.parametrize("lines,reason", [
    ([], "at least 1 item"),
    ([OrderLine("vip", 11)], "at most 10 of one ticket per order (vip)"),
    ([OrderLine("vip", 0)], "at least 1"),
    ([OrderLine("vip", 1), OrderLine("vip", 1)], "only once"),
    ([OrderLine("vip", 1), OrderLine("camping", 1), OrderLine("x", 1)], "at most 2 ticket types"),
    ([OrderLine("nope", 1)], "unknown ticket: nope"),
])
async def test_invalid_orders_are_refused_with_a_reason_and_write_nothing(engine, catalog, lines, reason):
    with pytest.raises(InvalidOrder) as refused:
        await checkout_of(engine, catalog, LIMITS).place(GUEST, "k", lines)
    assert reason in str(refused.value) and refused.value.status == 422
    assert await outbox_rows(engine) == []


async def test_catalog_down_refuses_without_writing(engine, catalog):
    catalog.down = True
    with pytest.raises(InventoryUnavailable):
        await checkout_of(engine, catalog, LIMITS).place(GUEST, "k", [OrderLine("vip", 1)])
    assert await outbox_rows(engine) == []


async def test_an_order_from_a_cart_that_changed_leaves_neither_order_nor_command(engine, catalog):
    cart = await carts.add(engine, catalog, LIMITS, carts.user_cart("guest"), "vip", 1)
    with pytest.raises(CartChanged) as refused:
        await checkout_of(engine, catalog, LIMITS).place(GUEST, "k", [OrderLine("vip", 1)],
                                                         from_cart=FromCart(cart.cart_id, cart.version - 1))
    assert refused.value.status == 409
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(db.orders))).scalar() == 0
    assert await outbox_rows(engine) == []


def test_the_request_hash_ignores_nothing_that_matters():
    from order_service.ordering import request_hash
    assert request_hash([OrderLine("a", 1)]) != request_hash([OrderLine("a", 2)])
    assert request_hash([OrderLine("a", 1)]) == request_hash([OrderLine("a", 1)])


async def test_a_ticket_outside_its_sale_window_is_refused_with_when(engine, catalog):
    catalog.tickets["vip"] = {**catalog.tickets["vip"], "sale_starts_at": "2099-03-01T10:00Z"}
    with pytest.raises(InvalidOrder, match="sales for VIP Weekend open at 01 Mar 2099 10:00 UTC"):
        await checkout_of(engine, catalog, LIMITS).place(GUEST, "k1", [OrderLine("vip", 1)])
    catalog.tickets["vip"] = {**catalog.tickets["vip"], "sale_starts_at": None, "sale_ends_at": "2020-01-01T00:00Z"}
    with pytest.raises(InvalidOrder, match="sales for VIP Weekend ended"):
        await checkout_of(engine, catalog, LIMITS).place(GUEST, "k1", [OrderLine("vip", 1)])
    assert await outbox_rows(engine) == []


async def test_more_than_a_buyers_limit_in_one_order_is_refused_at_once(engine, catalog):
    catalog.tickets["vip"] = {**catalog.tickets["vip"], "per_buyer_limit": 4}
    with pytest.raises(InvalidOrder, match="at most 4 VIP Weekend per buyer"):
        await checkout_of(engine, catalog, LIMITS).place(GUEST, "k1", [OrderLine("vip", 5)])
    assert (await checkout_of(engine, catalog, LIMITS).place(GUEST, "k2", [OrderLine("vip", 4)])).created
