"""Holds (real SQLite and PostgreSQL): an order that must be paid holds its stock until a deadline; paid, it
becomes a sale once; unpaid, it expires once and the stock is back exactly once, however many releases run
at the same time; a late payment reinstates it when the stock is free and is owed back when not."""
import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from festflow_contracts import events, fixtures, messages, sale_window
from festflow_contracts.messages import (
    CancelledTicket,
    CancelOrder,
    OrderItem,
    PayByBankTransfer,
    PaymentReceived,
    PlaceOrder,
)
from festflow_contracts.payment_reference import creditor_reference, is_valid
from inventory_service import db, festival
from inventory_service.cancellation import cancel_order
from inventory_service.hold_keeper import ExpiryWatch, on_payments
from inventory_service.holds import expire_due, next_deadline, settle_payment, settle_payments
from inventory_service.payment_choice import NO_ACCOUNT, pay_by_bank_transfer
from inventory_service.reservation import place_order, place_orders

IBAN = "DE89370400440532013000"


async def take_payments(engine, days=5):
    await festival.update(engine, festival.FestivalPatch(iban=IBAN, bic="COBADEFFXXX", beneficiary="Summer Fest GmbH",
                                                         bank_transfer_days=days))


def order(quantity=2, ticket_id="vip-weekend", username="guest", email="g@x.org"):
    return PlaceOrder(order_id=str(uuid.uuid4()), username=username, email=email,
                      items=(OrderItem(ticket_id=ticket_id, quantity=quantity),))


async def stock(engine, ticket_id="vip-weekend"):
    async with engine.connect() as conn:
        return await conn.scalar(sa.select(db.tickets.c.stock).where(db.tickets.c.id == ticket_id))


async def status(engine, order_id):
    async with engine.connect() as conn:
        return await conn.scalar(sa.select(db.orders.c.status).where(db.orders.c.order_id == order_id))


async def emitted(engine, type_):
    async with engine.connect() as conn:
        payloads = (await conn.scalars(sa.select(db.outbox.c.payload).order_by(db.outbox.c.seq))).all()
    return [e for e in map(json.loads, payloads) if e["type"] == type_]


def paid(order_id, amount=49800, payment_id=None):
    return PaymentReceived(order_id=order_id, amount_cents=amount, method="bank_transfer",
                           payment_id=payment_id or f"camt:{uuid.uuid4()}", received_at=events.now_iso())


async def test_an_order_at_a_festival_that_takes_payment_is_held_until_its_deadline(engine):
    await take_payments(engine, days=5)
    command = order(2)
    outcome = await place_order(engine, command, processed_at="2027-03-01T10:00:00.000Z")
    assert outcome.status == "AWAITING_PAYMENT"
    assert await stock(engine) == 48 and await status(engine, command.order_id) == "AWAITING_PAYMENT"
    [held] = await emitted(engine, events.ORDER_HELD)
    fixtures.record(held)
    data = held["data"]
    assert data["due_at"] == "2027-03-06T10:00:00.000Z" and data["total_cents"] == 49800
    assert data["reference"] == creditor_reference(command.order_id) and is_valid(data["reference"])
    assert data["pay_to"] == {"iban": IBAN, "bic": "COBADEFFXXX", "beneficiary": "Summer Fest GmbH"}
    assert data["stock"] == [{"ticket_id": "vip-weekend", "stock": 48}] and data["method"] == "bank_transfer"
    assert not await emitted(engine, events.ORDER_CONFIRMED)
    assert await next_deadline(engine) == "2027-03-06T10:00:00.000Z"


async def test_a_free_order_or_a_festival_without_an_account_sells_at_once(engine):
    plain = await place_order(engine, order(1))
    assert plain.status == "CONFIRMED"  # no IBAN: the festival takes no payment through FestFlow
    await take_payments(engine)
    async with engine.begin() as conn:
        await conn.execute(db.tickets.insert().values(id="volunteer", name="Volunteer", price_cents=0, stock=10))
    free = await place_order(engine, order(1, "volunteer"))
    assert free.status == "CONFIRMED" and await stock(engine, "volunteer") == 9
    assert len(await emitted(engine, events.ORDER_CONFIRMED)) == 2 and not await emitted(engine, events.ORDER_HELD)


async def test_a_hold_paid_in_time_becomes_a_sale_once(engine):
    await take_payments(engine)
    command = order(2)
    await place_order(engine, command)
    payment = paid(command.order_id)
    assert (await settle_payment(engine, payment)).status == "CONFIRMED"
    assert (await settle_payment(engine, payment)).status == "DUPLICATE"  # the same payment again
    assert await status(engine, command.order_id) == "CONFIRMED" and await stock(engine) == 48
    [sold] = await emitted(engine, events.ORDER_CONFIRMED)
    assert sold["data"]["order_id"] == command.order_id and sold["data"]["total_cents"] == 49800
    assert sold["data"]["items"][0]["quantity"] == 2 and sold["data"]["festival"]["name"]
    # the hold is over: the deadline passing changes nothing
    assert await expire_due(engine, sale_window.moment(events.now_iso()) + timedelta(days=30)) == []
    assert await stock(engine) == 48


async def test_holds_expire_once_after_their_deadline_and_the_stock_comes_back_once(engine):
    await take_payments(engine, days=1)
    commands = [order(1, username=f"b{i}", email=f"b{i}@x.org") for i in range(30)]
    await place_orders(engine, commands, processed_at="2027-03-01T10:00:00.000Z")
    assert await stock(engine) == 20
    early = sale_window.moment("2027-03-02T09:59:59.999Z")
    assert await expire_due(engine, early) == [] and await stock(engine) == 20
    due = sale_window.moment("2027-03-02T10:00:00.000Z")
    # four releases at once (as several inventory instances would run them), in batches of 8
    results = await asyncio.gather(*(expire_due(engine, due, limit=8) for _ in range(4)))
    while any(results):
        results = await asyncio.gather(*(expire_due(engine, due, limit=8) for _ in range(4)))
    assert await stock(engine) == 50
    expired = await emitted(engine, events.ORDER_EXPIRED)
    assert sorted(e["data"]["order_id"] for e in expired) == sorted(c.order_id for c in commands)
    fixtures.record(expired[0])
    assert expired[0]["data"]["due_at"] == "2027-03-02T10:00:00.000Z"
    assert expired[0]["data"]["items"][0]["quantity"] == 1
    assert {await status(engine, c.order_id) for c in commands} == {"EXPIRED"}
    assert await next_deadline(engine) is None


async def test_a_late_payment_reinstates_the_order_when_its_stock_is_free(engine):
    await take_payments(engine, days=1)
    command = order(2)
    await place_order(engine, command, processed_at="2027-03-01T10:00:00.000Z")
    [expired] = await expire_due(engine, sale_window.moment("2027-03-03T00:00:00.000Z"))
    assert expired.status == "EXPIRED" and await stock(engine) == 50
    outcome = await settle_payment(engine, paid(command.order_id))
    assert outcome.status == "REINSTATED" and await stock(engine) == 48
    assert await status(engine, command.order_id) == "CONFIRMED"
    assert len(await emitted(engine, events.ORDER_CONFIRMED)) == 1


async def test_a_late_payment_when_the_stock_is_gone_is_owed_back_and_sells_nothing(engine):
    await take_payments(engine, days=1)
    late = order(2)
    await place_order(engine, late, processed_at="2027-03-01T10:00:00.000Z")
    await expire_due(engine, sale_window.moment("2027-03-03T00:00:00.000Z"))
    await take_payments(engine, days=5)
    rest = order(50, username="other", email="o@x.org")
    assert (await place_order(engine, rest)).status == "AWAITING_PAYMENT" and await stock(engine) == 0
    outcome = await settle_payment(engine, paid(late.order_id))
    assert outcome.status == "REFUND_DUE" and "refunded" in outcome.reason
    assert await stock(engine) == 0 and await status(engine, late.order_id) == "EXPIRED"
    [due] = await emitted(engine, events.ORDER_REFUND_DUE)
    fixtures.record(due)
    assert due["data"]["order_id"] == late.order_id and due["data"]["amount_cents"] == 49800
    assert not await emitted(engine, events.ORDER_CONFIRMED)


async def test_an_abandoned_hold_gives_its_stock_back_at_once_and_a_payment_after_is_owed_back(engine):
    await take_payments(engine)
    command = order(3)
    await place_order(engine, command)
    assert await stock(engine) == 47
    cancel = CancelOrder(order_id=command.order_id, username="guest", email="g@x.org", reason="abandoned by the buyer")
    outcome = await cancel_order(engine, cancel)
    assert outcome.status == "CANCELLED" and await stock(engine) == 50
    assert (await cancel_order(engine, cancel)).status == "DUPLICATE" and await stock(engine) == 50
    [cancelled] = await emitted(engine, events.ORDER_CANCELLED)
    assert messages.parse(cancelled, messages.OrderCancelled).unpaid is True
    assert (await settle_payment(engine, paid(command.order_id))).status == "REFUND_DUE"
    assert await expire_due(engine, sale_window.moment(events.now_iso()) + timedelta(days=30)) == []
    assert await stock(engine) == 50


async def test_a_held_order_counts_against_the_buyers_limit_until_it_expires(engine):
    await take_payments(engine, days=1)
    async with engine.begin() as conn:
        await conn.execute(db.tickets.update().where(db.tickets.c.id == "vip-weekend").values(per_buyer_limit=2))
    await place_order(engine, order(2), processed_at="2027-03-01T10:00:00.000Z")
    refused = await place_order(engine, order(1), processed_at="2027-03-01T11:00:00.000Z")
    assert refused.status == "REJECTED" and "at most 2" in refused.reason
    await expire_due(engine, sale_window.moment("2027-03-03T00:00:00.000Z"))
    assert (await place_order(engine, order(2))).status == "AWAITING_PAYMENT"


async def test_the_payment_event_as_the_payment_service_sends_it_turns_the_hold_into_a_sale(engine):
    await take_payments(engine)
    command = order(1)
    await place_order(engine, command)
    outcomes = []
    handle = on_payments(engine, outcomes.append)
    event = fixtures.sample(events.PAYMENT_RECEIVED, order_id=command.order_id, amount_cents=24900)
    await handle(event)
    await handle(event)  # delivered again
    assert [o.status for o in outcomes] == ["CONFIRMED", "DUPLICATE"]
    assert await status(engine, command.order_id) == "CONFIRMED"


async def test_the_expiry_watch_releases_what_passed_its_deadline_while_it_was_away(engine):
    await take_payments(engine, days=1)
    command = order(4)
    await place_order(engine, command, processed_at="2025-03-01T10:00:00.000Z")  # long past
    released = []
    watch = ExpiryWatch(engine, released.append, poll=0.01)
    task = asyncio.create_task(watch.run())
    for _ in range(200):
        if released:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert [o.order_id for o in released] == [command.order_id] and await stock(engine) == 50


async def test_every_sale_with_something_to_pay_takes_the_next_invoice_number_without_gaps(engine):
    async with engine.begin() as conn:
        await conn.execute(db.tickets.update().where(db.tickets.c.id == "vip-weekend").values(vat_rate_bp=700))
        await conn.execute(db.tickets.insert().values(id="volunteer", name="Volunteer", price_cents=0, stock=10))
    batch = [order(1), order(1, "volunteer"), order(60), order(2)]  # the third is refused: no number for it
    outcomes = await place_orders(engine, batch)
    assert [o.status for o in outcomes] == ["CONFIRMED", "CONFIRMED", "REJECTED", "CONFIRMED"]
    await take_payments(engine)
    held = order(1)
    await place_order(engine, held)
    await settle_payment(engine, paid(held.order_id, 24900))
    sales = {e["data"]["order_id"]: e["data"] for e in await emitted(engine, events.ORDER_CONFIRMED)}
    assert [sales[c.order_id]["invoice_number"] for c in (batch[0], batch[3], held)] == [
        "INV-000001", "INV-000002", "INV-000003"]
    assert sales[batch[1].order_id]["invoice_number"] == ""  # a free order has no invoice
    assert sales[held.order_id]["items"][0]["vat_rate_bp"] == 700  # the rate at the sale, on the invoice's lines


async def test_a_fetch_of_payments_in_one_transaction_ends_as_one_by_one_would(engine):
    await take_payments(engine, days=1)
    early = [order(1, username=f"e{i}", email=f"e{i}@x.org") for i in range(2)]
    await place_orders(engine, early, processed_at=events.iso(datetime.now(UTC) - timedelta(days=2)))
    await expire_due(engine)  # both expired a day ago, their stock back
    await take_payments(engine, days=5)
    fresh = [order(1, username=f"f{i}", email=f"f{i}@x.org") for i in range(3)]
    await place_orders(engine, fresh)
    first = paid(fresh[0].order_id, 24900)
    batch = [first, paid(fresh[1].order_id, 24900), first,  # the same payment twice in one fetch
             paid(fresh[0].order_id, 24900),  # a second payment of an order just paid
             paid(early[0].order_id, 24900),  # late, the stock free: reinstated
             paid("no-such-order", 100)]
    outcomes = await settle_payments(engine, batch)
    assert [o.status for o in outcomes] == ["CONFIRMED", "CONFIRMED", "DUPLICATE", "REFUND_DUE", "REINSTATED",
                                            "UNKNOWN"]
    assert [o.status for o in await settle_payments(engine, batch)] == ["DUPLICATE"] * 6  # the fetch again
    assert await stock(engine) == 50 - 3 - 1 + 0  # three fresh holds, one reinstated, one left expired
    sales = [e["data"] for e in await emitted(engine, events.ORDER_CONFIRMED)]
    assert [s["order_id"] for s in sales] == [fresh[0].order_id, fresh[1].order_id, early[0].order_id]
    assert [s["invoice_number"] for s in sales] == ["INV-000001", "INV-000002", "INV-000003"]
    assert {await status(engine, c.order_id) for c in fresh[:2]} == {"CONFIRMED"}
    assert await status(engine, fresh[2].order_id) == "AWAITING_PAYMENT"


async def test_one_ticket_of_three_is_cancelled_once_and_its_price_is_owed_back(engine):
    command = order(3)
    await place_order(engine, command)
    assert await stock(engine) == 47
    one = CancelOrder(order_id=command.order_id, username="guest", email="g@x.org", reason="one cannot come",
                      tickets=(CancelledTicket(code="CODE-1", ticket_id="vip-weekend"),))
    outcome = await cancel_order(engine, one)
    assert outcome.status == "CANCELLED" and await stock(engine) == 48
    assert (await cancel_order(engine, one)).status == "DUPLICATE" and await stock(engine) == 48  # redelivered
    data = outcome.event["data"]
    assert data["codes"] == ["CODE-1"] and data["refund_cents"] == 24900 and data["items"][0]["quantity"] == 1
    assert data["credit_note_number"] == "CN-000001"  # what was paid for it is cancelled by a credit note
    assert await status(engine, command.order_id) == "CONFIRMED"  # the other two stay sold
    too_many = CancelOrder(order_id=command.order_id, username="guest", email="g@x.org", reason="x",
                           tickets=tuple(CancelledTicket(code=f"C{i}", ticket_id="vip-weekend") for i in range(3)))
    assert (await cancel_order(engine, too_many)).status == "DUPLICATE" and await stock(engine) == 48
    rest = CancelOrder(order_id=command.order_id, username="guest", email="g@x.org", reason="none can come",
                       tickets=(CancelledTicket(code="CODE-2", ticket_id="vip-weekend"),
                                CancelledTicket(code="CODE-3", ticket_id="vip-weekend")))
    last = await cancel_order(engine, rest)
    assert last.event["data"]["refund_cents"] == 49800 and await stock(engine) == 50
    assert last.event["data"]["codes"] == []  # nothing left: the whole order is cancelled now
    assert last.event["data"]["credit_note_number"] == "CN-000002"  # the next one, no gap
    assert await status(engine, command.order_id) == "CANCELLED"  # no ticket left


async def test_a_payment_later_than_the_organiser_accepts_is_owed_back_even_with_tickets_free(engine):
    await take_payments(engine, days=1)
    await festival.update(engine, festival.FestivalPatch(late_payment_days=3))
    command = order(1)
    await place_order(engine, command, processed_at="2027-03-01T10:00:00.000Z")  # its deadline: 2 March, 10:00
    await expire_due(engine, sale_window.moment("2027-03-02T10:00:00.000Z"))
    too_late = paid(command.order_id).model_copy(update={"received_at": "2027-03-05T10:00:01.000Z"})
    outcome = await settle_payment(engine, too_late)
    assert outcome.status == "REFUND_DUE" and "more than 3 days after its deadline" in outcome.reason
    assert await stock(engine) == 50 and await status(engine, command.order_id) == "EXPIRED"
    in_time = paid(command.order_id).model_copy(update={"received_at": "2027-03-05T09:59:59.000Z"})
    assert (await settle_payment(engine, in_time)).status == "REINSTATED"  # within the 3 days: sold again


# card holds, and the buyer's choice of a bank transfer: held for payment_hold_minutes where buyers may pay
# by card; turned into a transfer, the hold lasts the transfer term from the order, once, while the card hold lives
PLACED = "2027-03-01T10:00:00.000Z"
MINUTE_IN = datetime(2027, 3, 1, 10, 1, tzinfo=UTC)


async def take_cards(engine, iban=IBAN, minutes=20, days=5):
    await festival.update(engine, festival.FestivalPatch(card_payments=True, payment_hold_minutes=minutes,
                                                         bank_transfer_days=days, iban=iban, beneficiary="Summer Fest"))


async def test_where_buyers_may_pay_by_card_an_order_is_held_for_the_hold_minutes(engine):
    await take_cards(engine, minutes=20)
    command = order(2)
    outcome = await place_order(engine, command, processed_at=PLACED)
    assert outcome.status == "AWAITING_PAYMENT" and await stock(engine) == 48
    [held] = await emitted(engine, events.ORDER_HELD)
    assert held["data"]["method"] == "card" and held["data"]["due_at"] == "2027-03-01T10:20:00.000Z"
    assert held["data"]["pay_to"]["iban"] == IBAN  # the buyer may still choose a transfer
    assert await next_deadline(engine) == "2027-03-01T10:20:00.000Z"


async def test_cards_alone_hold_orders_too(engine):
    await take_cards(engine, iban="")
    outcome = await place_order(engine, order(1), processed_at=PLACED)
    assert outcome.status == "AWAITING_PAYMENT"
    [held] = await emitted(engine, events.ORDER_HELD)
    assert held["data"]["method"] == "card" and held["data"]["pay_to"] is None
    refused = await pay_by_bank_transfer(engine, PayByBankTransfer(order_id=outcome.order_id, username="guest"),
                                         now=MINUTE_IN)
    assert refused.status == "UNCHANGED" and refused.reason == NO_ACCOUNT


async def test_choosing_a_bank_transfer_holds_the_order_for_the_transfer_term_once(engine):
    await take_cards(engine, minutes=20, days=5)
    command = order(2)
    await place_order(engine, command, processed_at=PLACED)
    # the command as the order service sends it (its recorded sample)
    choice = messages.parse(fixtures.sample(events.PAY_BY_BANK_TRANSFER, order_id=command.order_id,
                                            username="guest"), PayByBankTransfer)
    outcome = await pay_by_bank_transfer(engine, choice, now=MINUTE_IN)
    assert outcome.status == "TRANSFER"
    held = await emitted(engine, events.ORDER_HELD)
    assert [h["data"]["method"] for h in held] == ["card", "bank_transfer"]
    again = held[1]
    fixtures.record(again)  # the shape consumers read, as the first hold
    assert again["data"]["due_at"] == "2027-03-06T10:00:00.000Z" and again["data"]["total_cents"] == 49800
    assert again["data"]["reference"] == held[0]["data"]["reference"]
    assert again["data"]["stock"] == [{"ticket_id": "vip-weekend", "stock": 48}]
    redelivered = await pay_by_bank_transfer(engine, choice, now=MINUTE_IN)
    assert redelivered.status == "UNCHANGED" and len(await emitted(engine, events.ORDER_HELD)) == 2
    # the card deadline passes: the order is not released, its new deadline is
    assert await expire_due(engine, now=datetime(2027, 3, 1, 11, 0, tzinfo=UTC)) == []
    assert await status(engine, command.order_id) == "AWAITING_PAYMENT" and await stock(engine) == 48
    [expired] = await expire_due(engine, now=datetime(2027, 3, 6, 10, 0, 1, tzinfo=UTC))
    assert expired.order_id == command.order_id and await stock(engine) == 50


async def test_a_transfer_cannot_revive_a_hold_that_ran_out_nor_change_anothers_order(engine):
    await take_cards(engine, minutes=20)
    command = order(2)
    await place_order(engine, command, processed_at=PLACED)
    stranger = await pay_by_bank_transfer(engine, PayByBankTransfer(order_id=command.order_id, username="mallory"),
                                          now=MINUTE_IN)
    assert stranger.status == "UNCHANGED" and stranger.reason == "no such order"
    late = datetime(2027, 3, 1, 10, 20, 1, tzinfo=UTC)
    too_late = await pay_by_bank_transfer(engine, PayByBankTransfer(order_id=command.order_id, username="guest"),
                                          now=late)
    assert too_late.status == "UNCHANGED" and too_late.reason == "its hold has run out"
    await expire_due(engine, now=late + timedelta(seconds=1))
    after = await pay_by_bank_transfer(engine, PayByBankTransfer(order_id=command.order_id, username="guest"),
                                       now=late + timedelta(seconds=2))
    assert after.status == "UNCHANGED" and after.reason == "the order is EXPIRED" and await stock(engine) == 50


async def test_a_card_switch_is_read_from_a_form(engine):
    patch = festival.FestivalPatch(card_payments="on")
    assert patch.card_payments is True
    assert festival.FestivalPatch(card_payments="").card_payments is False
    details = await festival.update(engine, patch)
    assert details["card_payments"] is True
