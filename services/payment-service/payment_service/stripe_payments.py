"""Card payments through Stripe, as PaymentIntents with manual capture: a buyer's card is authorised when they
pay, and the money is taken (captured) only once the inventory has turned the order's hold into a sale; an
authorisation whose hold is gone is cancelled, so nothing is charged. A refund gives back all of a payment
or a part (a cancelled ticket's share). Every call carries an idempotency key made of the order and the step,
so a retry, or a second instance doing the same step, never charges, cancels or refunds twice.

The tests run this against Stripe's own test server, stripe-mock (`STRIPE_API_BASE`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe


@dataclass(frozen=True)
class Intent:
    id: str
    status: str  # Stripe's: requires_payment_method, requires_capture, succeeded, canceled, ...
    amount_cents: int
    currency: str
    client_secret: str | None  # what the pay page hands Stripe's own script


def _intent(found: Any) -> Intent:
    return Intent(str(found.id), str(found.status), int(found.amount), str(found.currency).upper(),
                  getattr(found, "client_secret", None))


class StripePayments:
    def __init__(self, secret_key: str, api_base: str = "", max_network_retries: int = 2):
        self.client = stripe.StripeClient(secret_key, base_addresses={"api": api_base} if api_base else None,
                                          max_network_retries=max_network_retries)

    async def prepare(self, order_id: str, amount_cents: int, currency: str, reference: str) -> Intent:
        """A PaymentIntent for the order's amount, captured later by hand (once the tickets are sold)."""
        found = await self.client.v1.payment_intents.create_async(
            {"amount": amount_cents, "currency": currency.lower(), "capture_method": "manual",
             "description": f"FestFlow order {reference}", "metadata": {"order_id": order_id, "reference": reference}},
            {"idempotency_key": f"festflow-{order_id}-prepare"})
        return _intent(found)

    async def retrieve(self, intent_id: str) -> Intent:
        """The intent as Stripe has it now (the reconciliation compares it with what FestFlow recorded)."""
        return _intent(await self.client.v1.payment_intents.retrieve_async(intent_id))

    async def capture(self, intent_id: str, order_id: str) -> Intent:
        """Takes the authorised money: only after the inventory turned the hold into a sale."""
        return _intent(await self.client.v1.payment_intents.capture_async(
            intent_id, options={"idempotency_key": f"festflow-{order_id}-capture"}))

    async def cancel(self, intent_id: str, order_id: str) -> Intent:
        """Lets an authorisation go (nothing is charged): its hold expired and the tickets are gone."""
        return _intent(await self.client.v1.payment_intents.cancel_async(
            intent_id, options={"idempotency_key": f"festflow-{order_id}-cancel"}))

    async def refund(self, intent_id: str, order_id: str, amount_cents: int | None = None, step: str = "all") -> str:
        """Gives back the payment, or `amount_cents` of it (`step` names a partial refund: each is its own)."""
        params: dict[str, Any] = {"payment_intent": intent_id}
        if amount_cents is not None:
            params["amount"] = amount_cents
        found = await self.client.v1.refunds.create_async(
            params, {"idempotency_key": f"festflow-{order_id}-refund-{step}"})  # type: ignore[arg-type]
        return str(found.id)
