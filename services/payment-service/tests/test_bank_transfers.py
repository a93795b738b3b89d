"""Bank transfers (service layer, real SQLite and PostgreSQL): a statement pays the orders whose references it
carries, to the cent, once; everything else is left for a person, with the reason."""
import json

import pytest
import sqlalchemy as sa

from festflow_contracts import events, fixtures
from festflow_contracts.payment_reference import creditor_reference
from payment_service import db
from payment_service.bank_transfers import NotAwaited, expect_payment, import_statement, mark_paid, review_list
from payment_service.order_events import on_order_events

from .conftest import ANNA, BEN, statement

DUE = "2026-12-12T23:59:59Z"


async def awaited(engine):
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(db.expected_payments))).mappings().all()
    return {row["order_id"]: (row["status"], row["received_cents"]) for row in rows}


async def test_a_camt053_statement_pays_each_order_by_its_reference_once(engine):
    assert await expect_payment(engine, ANNA, 17800, "eur", DUE) == creditor_reference(ANNA)
    assert await expect_payment(engine, ANNA, 17800, "EUR", DUE) == creditor_reference(ANNA)  # asked again: same
    await expect_payment(engine, BEN, 8900, "EUR", DUE)
    first = await import_statement(engine, statement("camt053.xml"))
    assert first.summary() == {"format": "camt.053", "matched": 2, "unmatched": 1, "duplicates": 0, "review": 0,
                               "paid_orders": [ANNA, BEN]}
    assert await awaited(engine) == {ANNA: ("paid", 17800), BEN: ("paid", 8900)}
    again = await import_statement(engine, statement("camt053.xml"))  # the same statement a second time
    assert again.summary() == {"format": "camt.053", "matched": 0, "unmatched": 0, "duplicates": 3, "review": 0,
                               "paid_orders": []}
    [donation] = await review_list(engine)
    assert donation["amount_cents"] == 5000 and donation["reason"] == "no payment reference in the text"


async def test_the_same_payments_in_mt940_or_csv_pay_the_same_and_a_second_payment_is_for_review(engine):
    await expect_payment(engine, ANNA, 17800, "EUR", DUE)
    await expect_payment(engine, BEN, 8900, "EUR", DUE)
    assert (await import_statement(engine, statement("mt940.sta"))).matched == [ANNA]
    csv = await import_statement(engine, statement("statement.csv"))  # Anna's payment again, from another export
    assert csv.matched == [BEN] and csv.review == 1
    assert await awaited(engine) == {ANNA: ("paid", 17800), BEN: ("paid", 8900)}
    reasons = {line["reference"]: line["reason"] for line in await review_list(engine)}
    assert reasons == {creditor_reference(ANNA): "the order was paid already: refund this payment"}


async def test_partial_payments_add_up_and_over_payments_and_other_currencies_wait_for_a_person(engine):
    await expect_payment(engine, ANNA, 17800, "EUR", DUE)
    await expect_payment(engine, BEN, 8900, "EUR", DUE)
    anna, ben = creditor_reference(ANNA), creditor_reference(BEN)
    part = (f"date,amount,currency,reference\n2026-12-07,100.00,EUR,{anna}\n2026-12-08,10.00,CHF,{ben}\n"
            f"2026-12-08,90.00,EUR,{ben}\n").encode()
    first = await import_statement(engine, part)
    assert (first.matched, first.review) == ([], 3)
    assert await awaited(engine) == {ANNA: ("review", 10000), BEN: ("review", 9000)}
    rest = await import_statement(engine, f"date,amount,reference\n2026-12-09,78.00,{anna}\n".encode())
    assert rest.matched == [ANNA]
    reasons = sorted(line["reason"] for line in await review_list(engine))
    assert reasons == ["over-paid: €90.00 for €89.00", "paid in CHF, the order is in EUR",
                       "€100.00 of €178.00 received so far"]


async def test_an_unknown_reference_is_unmatched_and_a_statement_that_cannot_be_read_changes_nothing(engine):
    import pytest

    from payment_service.statements import StatementUnreadable
    stranger = creditor_reference("11111111-2222-4333-8444-555555555555")
    result = await import_statement(engine, f"date,amount,reference\n2026-12-07,5.00,{stranger}\n".encode())
    assert (result.unmatched, result.matched) == (1, [])
    assert (await review_list(engine))[0]["reason"] == f"nobody awaits {stranger}"
    with pytest.raises(StatementUnreadable):
        await import_statement(engine, b"date;amount;reference\n2026-12-07;10,00;x\n2026-12-07;ten;y\n")
    assert len(await review_list(engine)) == 1  # the first line of the bad file was not taken either


async def sent_events(engine):
    async with engine.connect() as conn:
        payloads = (await conn.scalars(sa.select(db.event_outbox.c.payload).order_by(db.event_outbox.c.seq))).all()
    return [json.loads(payload) for payload in payloads]


async def test_each_order_a_statement_pays_is_announced_once_to_the_inventory(engine):
    await expect_payment(engine, ANNA, 17800, "EUR", DUE)
    await expect_payment(engine, BEN, 8900, "EUR", DUE)
    await import_statement(engine, statement("camt053.xml"))
    await import_statement(engine, statement("camt053.xml"))  # again: nothing more is announced
    sent = await sent_events(engine)
    assert [(e["type"], e["data"]["order_id"], e["data"]["amount_cents"]) for e in sent] == [
        (events.PAYMENT_RECEIVED, ANNA, 17800), (events.PAYMENT_RECEIVED, BEN, 8900)]
    fixtures.record(sent[0])
    assert sent[0]["data"]["payment_id"].startswith("bank:") and sent[0]["data"]["method"] == "bank_transfer"
    assert sent[0]["data"]["payment_id"] != sent[1]["data"]["payment_id"]


async def test_orders_held_for_a_transfer_are_awaited_and_a_payment_they_cannot_take_is_owed_back(engine):
    handle = on_order_events(engine)
    held = [fixtures.sample(events.ORDER_HELD, order_id=ANNA, total_cents=17800, due_at=DUE),
            fixtures.sample(events.ORDER_HELD, order_id=BEN, total_cents=8900, due_at=DUE),
            fixtures.sample(events.ORDER_CONFIRMED, order_id="sold-at-once")]  # none of its business
    await handle(held)
    await handle(held)  # delivered again: awaited once
    assert await awaited(engine) == {ANNA: ("awaiting", 0), BEN: ("awaiting", 0)}
    assert (await import_statement(engine, statement("camt053.xml"))).matched == [ANNA, BEN]
    await handle([fixtures.sample(events.ORDER_REFUND_DUE, order_id=BEN, amount_cents=8900,
                                  reason="paid after its deadline, when VIP had too few left")])
    assert (await awaited(engine))[BEN] == ("refund", 8900)


async def test_the_organiser_marks_an_order_paid_once_and_the_inventory_hears_it(engine):
    await expect_payment(engine, ANNA, 17800, "EUR", DUE)
    await mark_paid(engine, ANNA, "admin")
    with pytest.raises(NotAwaited) as again:
        await mark_paid(engine, ANNA, "admin")
    assert again.value.status == 409 and "paid already" in again.value.detail
    with pytest.raises(NotAwaited) as unknown:
        await mark_paid(engine, BEN, "admin")
    assert unknown.value.status == 404
    [sent] = await sent_events(engine)
    assert sent["data"]["method"] == "manual" and sent["data"]["payment_id"] == f"manual:{ANNA}"
    assert sent["data"]["amount_cents"] == 17800 and (await awaited(engine))[ANNA] == ("paid", 17800)
