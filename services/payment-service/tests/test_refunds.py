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
from payment_service import db
from payment_service.bank_transfers import Awaited, expect_payments, import_statement
from payment_service.order_events import on_order_events
from payment_service.refunds import NothingToRefund, due, sepa_file

from .conftest import ANNA, BEN, statement

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


async def test_an_unpaid_order_cancelled_owes_nothing_and_a_captured_card_is_refunded(engine):
    await paid_by_statement(engine)
    await on_order_events(engine)([fixtures.sample(events.ORDER_CANCELLED, order_id=ANNA, unpaid=True)])
    assert await due(engine) == []
    async with engine.begin() as conn:
        await conn.execute(db.card_payments.insert().values(order_id="carded", intent_id="pi_9", amount_cents=500,
                                                            currency="EUR", status="captured", updated_at="now"))
    await on_order_events(engine)([fixtures.sample(events.ORDER_CANCELLED, order_id="carded", reason="moved")])
    async with engine.connect() as conn:
        card = (await conn.execute(sa.select(db.card_payments))).mappings().one()
    assert (card["action"], card["note"]) == ("refund", "cancelled: moved")
