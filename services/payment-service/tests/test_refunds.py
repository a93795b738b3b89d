"""Refunds (service layer, real SQLite and PostgreSQL): a paid order cancelled owes its money back; the bank
refunds go into a SEPA credit transfer file (pain.001, made by sepaxml) that parses back with the right
accounts and amounts, each refund in one file only; one whose payer's account is unknown stays for a person; a
captured card payment is refunded through Stripe."""
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from festflow_contracts import events, fixtures
from festflow_contracts.messages import PayTo
from festflow_contracts.payment_reference import creditor_reference
from payment_service import db, refunds
from payment_service.bank_transfers import Awaited, expect_payments, import_statement
from payment_service.order_events import on_order_events
from payment_service.refunds import NothingToRefund, due, sepa_file

from .conftest import ANNA, BEN, statement
from .test_card_payments import FakeStripe

ACCOUNT = PayTo(iban="DE89370400440532013000", bic="COBADEFFXXX", beneficiary="Riverfest GmbH")
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


async def paid_by_statement(engine):
    await expect_payments(engine, [Awaited(ANNA, 17800, "EUR", "2099-01-01T00:00:00Z", "anna", ACCOUNT),
                                   Awaited(BEN, 8900, "EUR", "2099-01-01T00:00:00Z", "ben", ACCOUNT)])
    assert (await import_statement(engine, statement("camt053.xml"))).matched == [ANNA, BEN]


async def test_a_cancelled_paid_order_is_refunded_by_a_sepa_file_that_parses_back(engine):
    await paid_by_statement(engine)
    handle = on_order_events(engine)
    for order_id in (ANNA, BEN):
        await handle([fixtures.sample(events.ORDER_CANCELLED, order_id=order_id, reason="the buyer asked for it")])
    owed = {r["order_id"]: r for r in await due(engine)}
    assert owed[ANNA]["payer_iban"] == "DE02120300000000202051" and owed[ANNA]["amount_cents"] == 17800
    assert owed[ANNA]["reason"] == "cancelled: the buyer asked for it" and not owed[ANNA]["by_hand"]
    assert owed[BEN]["by_hand"]  # Ben's line named no account: a person refunds him
    made = await sepa_file(engine)
    assert (made.count, made.total_cents, made.left_by_hand) == (1, 17800, 1)
    root = ElementTree.fromstring(made.xml)
    assert root.find(".//p:GrpHdr/p:NbOfTxs", NS).text == "1"
    assert root.find(".//p:GrpHdr/p:CtrlSum", NS).text == "178.00"
    assert root.find(".//p:DbtrAcct/p:Id/p:IBAN", NS).text == ACCOUNT.iban
    assert root.find(".//p:Dbtr/p:Nm", NS).text == "Riverfest GmbH"
    [transfer] = root.findall(".//p:CdtTrfTxInf", NS)
    assert transfer.find("p:CdtrAcct/p:Id/p:IBAN", NS).text == "DE02120300000000202051"
    assert transfer.find("p:Amt/p:InstdAmt", NS).text == "178.00"
    assert transfer.find("p:PmtId/p:EndToEndId", NS).text == creditor_reference(ANNA)
    assert transfer.find("p:Cdtr/p:Nm", NS).text == "Anna Buyer"
    with pytest.raises(NothingToRefund, match="refund those by hand"):  # Anna's went out; Ben's cannot
        await sepa_file(engine)
    assert [r["order_id"] for r in await due(engine)] == [BEN]


async def test_an_unpaid_order_cancelled_owes_nothing_and_a_captured_card_is_refunded_in_parts(engine):
    await paid_by_statement(engine)
    await on_order_events(engine)([fixtures.sample(events.ORDER_CANCELLED, order_id=ANNA, unpaid=True)])
    assert await due(engine) == []
    async with engine.begin() as conn:
        await conn.execute(db.card_payments.insert().values(order_id="carded", intent_id="pi_9", amount_cents=7500,
                                                            currency="EUR", status="captured", updated_at="now"))
    handle, cards = on_order_events(engine), FakeStripe()
    one = fixtures.sample(events.ORDER_CANCELLED, order_id="carded", reason="one cannot come", codes=["C1"],
                          refund_cents=2500)
    await handle([one, one])  # told twice: owed once
    assert await refunds.run_card(engine, cards) == 1 and cards.calls == [("refund", "pi_9")]
    async with engine.connect() as conn:
        assert (await conn.scalar(sa.select(db.card_payments.c.status))) == "captured"  # a part only
    rest = fixtures.sample(events.ORDER_CANCELLED, order_id="carded", reason="none can come", refund_cents=5000)
    await handle([rest])
    assert await refunds.run_card(engine, cards) == 1 and len(cards.calls) == 2
    async with engine.connect() as conn:
        given = (await conn.execute(sa.select(db.refunds.c.amount_cents, db.refunds.c.status)
                                    .order_by(db.refunds.c.amount_cents))).all()
        assert (await conn.scalar(sa.select(db.card_payments.c.status))) == "refunded"
    assert [tuple(g) for g in given] == [(2500, "done"), (5000, "done")]


async def test_one_ticket_of_three_cancelled_owes_back_its_price_by_transfer(engine):
    await paid_by_statement(engine)
    await on_order_events(engine)([fixtures.sample(events.ORDER_CANCELLED, order_id=ANNA, reason="one cannot come",
                                                   codes=["CODE-1"], refund_cents=8900)])
    [owed] = await due(engine)
    assert (owed["order_id"], owed["amount_cents"]) == (ANNA, 8900)  # its price, not the order's 178.00
    made = await sepa_file(engine)
    assert made.total_cents == 8900 and b"<InstdAmt Ccy=\"EUR\">89.00</InstdAmt>" in made.xml
