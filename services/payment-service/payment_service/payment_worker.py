"""The payment service's background work: acting on the providers' webhook events from the inbox, and asking
Stripe what is due (captures, cancellations, refunds), woken when something new arrives and every POLL
seconds anyway, so that what a crash or an outage left is done after it."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_runtime.backoff import Backoff
from payment_service import card_payments, refunds

log = logging.getLogger("payment_service.worker")
POLL = 1.0


class PaymentWorker:
    def __init__(self, engine: AsyncEngine, cards: card_payments.CardStripe | None,
                 on_announced: Callable[[], None], poll: float = POLL):
        self.engine, self.cards, self.on_announced, self.poll = engine, cards, on_announced, poll
        self.wakeup = asyncio.Event()

    def notify(self) -> None:
        self.wakeup.set()

    async def once(self) -> int:
        """One round: the inbox's new events, then Stripe's due calls; how much was done."""
        applied = await card_payments.apply_webhooks(self.engine)
        if applied:
            self.on_announced()
        done = 0
        if self.cards is not None:
            done = await card_payments.run_actions(self.engine, self.cards) + await refunds.run_card(self.engine,
                                                                                                   self.cards)
        return applied + done

    async def run(self) -> None:
        backoff = Backoff(log, "acting on payment events", start=0.5, maximum=10.0)
        while True:
            self.wakeup.clear()
            try:
                busy = await self.once()
            except Exception as exc:
                await backoff.failed(exc)
                continue
            backoff.succeeded()
            if not busy:
                try:
                    await asyncio.wait_for(self.wakeup.wait(), self.poll)
                except TimeoutError:
                    pass
