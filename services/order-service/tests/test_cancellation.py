"""Cancellations (service layer, real SQLite/PostgreSQL): the organiser's of a confirmed or unpaid order, the
buyer's of their unpaid one; its command in the outbox, and CANCELLED once the inventory says so."""
import pytest
import sqlalchemy as sa

from festflow_contracts import events
from festflow_contracts.fixtures import record, sample
from festflow_contracts.tokens import Identity
from order_service import db
from order_service.bootstrap import status_projection
from order_service.cancellation import ABANDONED, InvalidTickets, NoSuchOrder, NotCancellable, request_cancel
from order_service.ordering import Limits, OrderLine
from order_service.payment_choice import request_bank_transfer, transfer_refusal

from .conftest import checkout_of

GUEST = Identity("guest", "client", "guest@festflow.local")


async def status_of(engine, order_id):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(db.orders.c.status, db.orders.c.reason)
                                   .where(db.orders.c.order_id == order_id))).one()


async def test_a_confirmed_order_is_cancelled_through_the_inventory(engine, catalog):
    placed = await checkout_of(engine, catalog, Limits()).place(GUEST, "k1", [OrderLine("vip", 2)])
    order_id = placed.order["order_id"]
    with pytest.raises(NotCancellable, match="not settled yet") as refused:
        await request_cancel(engine, order_id, "cancelled by the organiser")
    assert refused.value.status == 409
    projection = status_projection(engine, Limits())
    await projection.apply(sample(events.ORDER_CONFIRMED, order_id=order_id))
    answer = await request_cancel(engine, order_id, "the buyer asked for it")
    assert answer == {"order_id": order_id, "status": "CONFIRMED", "cancellation": "requested"}
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(db.command_outbox).where(db.command_outbox.c.type == events.CANCEL_ORDER))
               ).mappings().one()
    command = events.decode(row["payload"])
    assert command["data"] == {"order_id": order_id, "username": "guest", "email": "",
                               "reason": "the buyer asked for it", "tickets": []}
    await projection.apply(sample(events.ORDER_CANCELLED, order_id=order_id, reason="the buyer asked for it"))
    assert tuple(await status_of(engine, order_id)) == ("CANCELLED", "the buyer asked for it")
    with pytest.raises(NotCancellable, match="CANCELLED: there is nothing to cancel"):
        await request_cancel(engine, order_id, "again")
    with pytest.raises(NoSuchOrder):
        await request_cancel(engine, "no-such-order", "x")


async def test_a_cancellation_event_changes_only_a_confirmed_order(engine, catalog):
    placed = await checkout_of(engine, catalog, Limits()).place(GUEST, "k1", [OrderLine("vip", 1)])
    await status_projection(engine, Limits()).apply(sample(events.ORDER_CANCELLED, order_id=placed.order["order_id"]))
    assert (await status_of(engine, placed.order["order_id"]))[0] == "PENDING"


async def test_a_buyer_abandons_only_their_own_order_awaiting_payment(engine, catalog):
    placed = await checkout_of(engine, catalog, Limits()).place(GUEST, "k1", [OrderLine("vip", 2)])
    order_id = placed.order["order_id"]
    projection = status_projection(engine, Limits())
    await projection.apply(sample(events.ORDER_HELD, order_id=order_id))
    with pytest.raises(NoSuchOrder):  # another buyer's order is as good as missing
        await request_cancel(engine, order_id, ABANDONED, buyer="someone-else")
    answer = await request_cancel(engine, order_id, ABANDONED, buyer="guest")
    assert answer == {"order_id": order_id, "status": "AWAITING_PAYMENT", "cancellation": "requested"}
    async with engine.connect() as conn:
        payload = await conn.scalar(sa.select(db.command_outbox.c.payload)
                                    .where(db.command_outbox.c.type == events.CANCEL_ORDER))
    assert events.decode(payload)["data"]["reason"] == ABANDONED
    await projection.apply(sample(events.ORDER_CANCELLED, order_id=order_id, reason=ABANDONED, unpaid=True))
    assert tuple(await status_of(engine, order_id)) == ("CANCELLED", ABANDONED)
    with pytest.raises(NotCancellable, match="only an unpaid order"):
        await request_cancel(engine, order_id, ABANDONED, buyer="guest")


async def test_the_organiser_cancels_one_ticket_of_a_confirmed_order(engine, catalog):
    placed = await checkout_of(engine, catalog, Limits()).place(GUEST, "k1", [OrderLine("vip", 2)])
    order_id = placed.order["order_id"]
    projection = status_projection(engine, Limits())
    await projection.apply(sample(events.ORDER_CONFIRMED, order_id=order_id))
    await projection.apply(sample(events.TICKETS_ISSUED, order_id=order_id, tickets=[
        {"code": code, "ticket_id": "vip", "name": "VIP", "holder": "", "status": "valid", "qr": f"FF1.{code}.sig"}
        for code in ("CODE-AAAA", "CODE-BBBB")]))
    with pytest.raises(InvalidTickets, match="NOPE is none of this order's valid tickets"):
        await request_cancel(engine, order_id, "x", tickets=["NOPE"])
    await request_cancel(engine, order_id, "one cannot come", tickets=["CODE-BBBB"])
    async with engine.connect() as conn:
        payload = await conn.scalar(sa.select(db.command_outbox.c.payload)
                                    .where(db.command_outbox.c.type == events.CANCEL_ORDER))
    assert events.decode(payload)["data"]["tickets"] == [{"code": "CODE-BBBB", "ticket_id": "vip"}]
    await projection.apply(sample(events.ORDER_CANCELLED, order_id=order_id, reason="one cannot come",
                                  codes=["CODE-BBBB"], refund_cents=100))
    assert tuple(await status_of(engine, order_id)) == ("CONFIRMED", "1 ticket cancelled: one cannot come")


async def test_a_buyer_pays_a_card_hold_by_bank_transfer_instead(engine, catalog):
    placed = await checkout_of(engine, catalog, Limits()).place(GUEST, "k1", [OrderLine("vip", 2)])
    order_id = placed.order["order_id"]
    projection = status_projection(engine, Limits())
    with pytest.raises(NotCancellable, match="PENDING: only an order awaiting payment"):
        await request_bank_transfer(engine, order_id, "guest")
    card_hold = sample(events.ORDER_HELD, order_id=order_id, method="card", due_at="2099-01-01T10:15:00.000Z")
    await projection.apply(card_hold)
    with pytest.raises(NoSuchOrder):  # another buyer's order is as good as missing
        await request_bank_transfer(engine, order_id, "mallory")
    answer = await request_bank_transfer(engine, order_id, "guest")
    assert answer == {"order_id": order_id, "method": "bank_transfer", "requested": True}
    await request_bank_transfer(engine, order_id, "guest")  # asked twice before it is done: one command
    async with engine.connect() as conn:
        [row] = (await conn.execute(sa.select(db.command_outbox).where(
            db.command_outbox.c.type == events.PAY_BY_BANK_TRANSFER))).mappings().all()
    command = events.decode(row["payload"])
    record(command)
    assert row["message_id"] == f"transfer:{order_id}" and command["data"] == {"order_id": order_id,
                                                                               "username": "guest"}
    # the inventory holds it again, for the transfer term: the order shows the transfer and its deadline
    await projection.apply(sample(events.ORDER_HELD, order_id=order_id, method="bank_transfer",
                                  due_at="2099-01-06T10:00:00.000Z"))
    async with engine.connect() as conn:
        status, payment = (await conn.execute(sa.select(db.orders.c.status, db.orders.c.payment)
                                              .where(db.orders.c.order_id == order_id))).one()
    assert status == "AWAITING_PAYMENT" and payment["method"] == "bank_transfer"
    assert payment["due_at"] == "2099-01-06T10:00:00.000Z" and payment["iban"]
    with pytest.raises(NotCancellable, match="paid by bank transfer already"):
        await request_bank_transfer(engine, order_id, "guest")


@pytest.mark.parametrize(("payment", "refusal"), [
    ({"method": "card", "iban": "", "due_at": "2099-01-01T00:00:00.000Z"}, "takes no bank transfers"),
    ({"method": "card", "iban": "DE89370400440532013000", "due_at": "2000-01-01T00:00:00.000Z"}, "has run out"),
])
def test_a_transfer_is_refused_with_its_reason(payment, refusal):
    assert refusal in transfer_refusal({"status": "AWAITING_PAYMENT", "payment": payment}, "2026-12-07T00:00:00.000Z")
