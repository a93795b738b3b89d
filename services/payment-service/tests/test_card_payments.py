"""Card payments (service layer, real SQLite and PostgreSQL, Stripe replaced by a fake that records the calls):
an authorisation from a signed webhook announces the payment once, however often and in whatever order Stripe's
events come; the money is captured only after the sale, an authorisation the order cannot take is cancelled,
money taken for nothing is refunded; what Stripe could not do is asked again."""
import itertools
import json
import time

import pytest
import sqlalchemy as sa
import stripe

from festflow_contracts import events, fixtures, messages
from payment_service import db, refunds
from payment_service.bank_transfers import Awaited, expect_payments
from payment_service.card_payments import (
    CardRefused,
    apply_webhooks,
    on_order_event,
    reconcile,
    run_actions,
    start,
)
from payment_service.stripe_payments import Intent
from payment_service.stripe_webhooks import receive

from .conftest import ANNA, BEN
from .stripe_signing import signature, stripe_event

SECRET = "whsec_festflow_test"
LATER = "2099-01-01T00:00:00.000Z"


class FakeStripe:
    """Stripe as the service layer uses it: intents with fresh ids, and a list of what was asked."""

    def __init__(self):
        self.numbers = itertools.count(1)
        self.calls: list[tuple[str, str]] = []
        self.down = False

    async def prepare(self, order_id, amount_cents, currency, reference):
        return Intent(f"pi_{next(self.numbers)}", "requires_payment_method", amount_cents, currency, "secret")

    async def retrieve(self, intent_id):
        raise NotImplementedError

    async def _call(self, step, intent_id):
        if self.down:
            raise stripe.APIConnectionError("Stripe is away")
        self.calls.append((step, intent_id))
        return Intent(intent_id, step, 0, "EUR", None)

    async def capture(self, intent_id, order_id):
        return await self._call("capture", intent_id)

    async def cancel(self, intent_id, order_id):
        return await self._call("cancel", intent_id)

    async def refund(self, intent_id, order_id, amount_cents=None, step="all"):
        await self._call("refund", intent_id)
        return "re_1"


async def awaiting(engine, *orders):
    await expect_payments(engine, [Awaited(order, 17800, "EUR", LATER, "anna") for order in orders])


async def webhook(engine, kind, intent_id, created=None, event_id=None):
    payload = stripe_event(kind, created=created, event_id=event_id, id=intent_id, amount=17800,
                           amount_capturable=17800, status="requires_capture", metadata={"order_id": ANNA})
    await receive(engine, payload, signature(payload, SECRET), SECRET)


async def announced(engine):
    async with engine.connect() as conn:
        return [json.loads(p) for p in (await conn.scalars(sa.select(db.event_outbox.c.payload)
                                                           .order_by(db.event_outbox.c.seq))).all()]


async def card(engine, order_id=ANNA):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(db.card_payments).where(db.card_payments.c.order_id == order_id))
                ).mappings().one()


async def test_only_the_buyer_of_an_order_awaiting_payment_starts_a_card_payment(engine):
    cards = FakeStripe()
    with pytest.raises(CardRefused) as unknown:
        await start(engine, cards, ANNA, "anna")
    assert unknown.value.status == 404
    await awaiting(engine, ANNA)
    with pytest.raises(CardRefused) as other:
        await start(engine, cards, ANNA, "ben")
    assert other.value.status == 404
    first = await start(engine, cards, ANNA, "anna")
    again = await start(engine, cards, ANNA, "anna")  # the page opened again: the intent to use now
    assert (first.intent_id, again.intent_id) == ("pi_1", "pi_2") and again.amount_cents == 17800
    assert (await card(engine))["intent_id"] == "pi_2"


async def test_an_authorisation_is_announced_once_whatever_stripe_sends_and_in_whatever_order(engine):
    cards = FakeStripe()
    await awaiting(engine, ANNA)
    intent = (await start(engine, cards, ANNA, "anna")).intent_id
    now = int(time.time())
    await webhook(engine, "payment_intent.amount_capturable_updated", intent, created=now, event_id="evt_auth")
    # a failure made before it arrives after it; the authorisation itself comes three times
    await webhook(engine, "payment_intent.payment_failed", intent, created=now - 5, event_id="evt_failed")
    for _ in range(2):
        await webhook(engine, "payment_intent.amount_capturable_updated", intent, created=now, event_id="evt_auth")
    assert await apply_webhooks(engine) == 2 and await apply_webhooks(engine) == 0
    [received] = await announced(engine)
    fixtures.record(received)
    assert received["type"] == events.PAYMENT_RECEIVED
    assert received["data"] | {"received_at": ""} == {"order_id": ANNA, "amount_cents": 17800, "currency": "EUR",
                                                      "method": "card", "payment_id": f"stripe:{intent}",
                                                      "received_at": ""}
    assert (await card(engine))["status"] == "authorised"
    await webhook(engine, "payment_intent.amount_capturable_updated", intent, event_id="evt_another")
    assert await apply_webhooks(engine) == 1 and len(await announced(engine)) == 1  # known already: nothing


async def test_the_money_is_captured_only_after_the_sale_and_cancelled_when_the_order_cannot_take_it(engine):
    cards = FakeStripe()
    await awaiting(engine, ANNA, BEN)
    anna = (await start(engine, cards, ANNA, "anna")).intent_id
    ben = (await start(engine, cards, BEN, "anna")).intent_id
    for intent in (anna, ben):
        await webhook(engine, "payment_intent.amount_capturable_updated", intent)
    await apply_webhooks(engine)
    assert await run_actions(engine, cards) == 0 and cards.calls == []  # authorised: nothing taken yet
    async with engine.begin() as conn:
        await on_order_event(conn, fixtures_message(events.ORDER_CONFIRMED, ANNA))
        await on_order_event(conn, fixtures_message(events.ORDER_REFUND_DUE, BEN))  # expired, sold out
    assert await run_actions(engine, cards) == 2
    assert sorted(cards.calls) == sorted([("capture", anna), ("cancel", ben)])
    assert ((await card(engine, ANNA))["status"], (await card(engine, BEN))["status"]) == ("captured", "cancelled")
    twice = messages.parse_any(fixtures.sample(events.ORDER_REFUND_DUE, order_id=ANNA, method="card",
                                               payment_id="stripe:pi_other", amount_cents=17800))
    async with engine.begin() as conn:  # the sale's event again (at-least-once): nothing more is asked
        await on_order_event(conn, fixtures_message(events.ORDER_CONFIRMED, ANNA))
        await on_order_event(conn, twice)  # paid twice: the second payment is owed back
        await on_order_event(conn, twice)  # told again: once
    assert await run_actions(engine, cards) == 0
    assert await refunds.run_card(engine, cards) == 1 and cards.calls[-1] == ("refund", anna)
    assert await refunds.run_card(engine, cards) == 0 and (await card(engine, ANNA))["status"] == "refunded"


async def test_what_stripe_could_not_do_is_asked_again_later(engine):
    cards = FakeStripe()
    await awaiting(engine, ANNA)
    intent = (await start(engine, cards, ANNA, "anna")).intent_id
    await webhook(engine, "payment_intent.amount_capturable_updated", intent)
    await apply_webhooks(engine)
    async with engine.begin() as conn:
        await on_order_event(conn, fixtures_message(events.ORDER_CONFIRMED, ANNA))
    cards.down = True
    assert await run_actions(engine, cards) == 0 and (await card(engine))["action"] == "capture"
    cards.down = False
    assert await run_actions(engine, cards) == 1 and cards.calls == [("capture", intent)]


def fixtures_message(type_, order_id):
    return messages.parse_any(fixtures.sample(type_, order_id=order_id))


async def test_the_reconciliation_reports_where_stripe_and_festflow_differ(engine):
    class StripeSays(FakeStripe):
        async def retrieve(self, intent_id):
            if intent_id == "pi_gone":
                raise stripe.InvalidRequestError("No such payment_intent", "id")
            status, amount = {"pi_ok": ("succeeded", 500), "pi_odd": ("requires_capture", 500),
                              "pi_more": ("succeeded", 900)}[intent_id]
            return Intent(intent_id, status, amount, "EUR", None)
    async with engine.begin() as conn:
        for order, intent in (("o-ok", "pi_ok"), ("o-odd", "pi_odd"), ("o-more", "pi_more"), ("o-gone", "pi_gone")):
            await conn.execute(db.card_payments.insert().values(order_id=order, intent_id=intent, amount_cents=500,
                                                                currency="EUR", status="captured", updated_at="t"))
    found = {d["order_id"]: d["problem"] for d in await reconcile(engine, StripeSays())}
    assert found == {"o-odd": "FestFlow has it captured, Stripe requires_capture",
                     "o-more": "Stripe's amount is 900 EUR, FestFlow's 500 EUR",
                     "o-gone": "Stripe does not know this intent"}


async def test_a_card_hold_turned_into_a_transfer_is_awaited_until_its_later_deadline(engine):
    await expect_payments(engine, [Awaited("order-1", 17800, "EUR", "2099-01-01T00:15:00.000Z", "anna")])
    await expect_payments(engine, [Awaited("order-1", 17800, "EUR", "2099-01-06T00:00:00.000Z", "anna")])
    await expect_payments(engine, [Awaited("order-1", 17800, "EUR", "2099-01-01T00:15:00.000Z", "anna")])  # late copy
    async with engine.connect() as conn:
        [due] = (await conn.scalars(sa.select(db.expected_payments.c.due_at))).all()
    assert due == "2099-01-06T00:00:00.000Z"
