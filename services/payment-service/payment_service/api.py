"""The payment API behind the gateway: the organiser imports bank statements and sees what needs a person;
Stripe's webhooks arrive."""
from __future__ import annotations

import logging
from typing import Annotated

import stripe
from fastapi import APIRouter, Depends, Header, HTTPException, Request, UploadFile
from fastapi.responses import Response

from festflow_runtime import database
from festflow_runtime.api_auth import Caller, Organiser
from festflow_runtime.health import health_answer
from payment_service import bank_transfers, card_payments, refunds, stripe_webhooks
from payment_service.bootstrap import Services
from payment_service.statements import StatementUnreadable

router = APIRouter(tags=["payments"])
log = logging.getLogger("payment_service.statements")


def services(request: Request) -> Services:
    return request.app.state.services


AppServices = Annotated[Services, Depends(services)]




@router.post("/api/payments/orders/{order_id}/card")
async def pay_by_card(parts: AppServices, order_id: str, identity: Caller):
    """The buyer pays their order awaiting payment by card: a Stripe PaymentIntent (manual capture) for its
    amount, whose `client_secret` Stripe's own script on the pay page uses (with `publishable_key`) to authorise
    the card. The money is taken only once the tickets are sold to this order. 404 while Stripe is off, or for
    an order that is not the caller's or awaits nothing; 409 once it is paid, or its time is over."""
    if parts.cards is None:
        raise HTTPException(404, "card payments are not available at this festival: pay by bank transfer, or ask the "
                                 "organiser (the payment service has no STRIPE_SECRET_KEY)")
    try:
        started = await card_payments.start(parts.engine, parts.cards, order_id, identity.username)
    except card_payments.CardRefused as refused:
        raise HTTPException(refused.status, refused.detail) from None
    except stripe.StripeError as exc:
        log.error("Stripe refused an intent for order %s: %r", order_id[:8], exc)
        raise HTTPException(503, "card payments are not available right now; try again in a moment, or pay by "
                                 "bank transfer", headers={"Retry-After": "5"}) from None
    return {"order_id": started.order_id, "intent_id": started.intent_id, "client_secret": started.client_secret,
            "amount_cents": started.amount_cents, "currency": started.currency,
            "publishable_key": parts.settings.stripe_publishable_key}


@router.post("/api/admin/payments/bank-statements")
async def import_bank_statement(parts: AppServices, admin: Organiser, file: UploadFile):
    """A bank statement (CAMT.053, MT940 or CSV, the form field `file`): each credit pays the order whose
    payment reference it carries, once. Answers how many lines were matched, left unmatched, read before
    (a statement imported twice pays nothing twice) or left for review; 422 says why a file cannot be read."""
    data = await file.read(parts.settings.max_statement_bytes + 1)
    if len(data) > parts.settings.max_statement_bytes:
        raise HTTPException(413, f"a statement may have at most {parts.settings.max_statement_bytes} bytes")
    try:
        result = await bank_transfers.import_statement(parts.engine, data)
    except StatementUnreadable as exc:
        raise HTTPException(422, f"{file.filename or 'the file'}: {exc}") from exc
    parts.relay.notify()  # the payments it received go out now
    summary = result.summary()
    log.info("%s imported by %s: %d matched, %d unmatched, %d read before, %d for review", result.format,
             admin.username, summary["matched"], summary["unmatched"], summary["duplicates"], summary["review"])
    return summary


@router.get("/api/admin/payments/review")
async def review(parts: AppServices, _admin: Organiser):
    """The statement lines a person must look at (no reference, nobody awaits it, partial, over-paid,
    another currency, paid twice), newest first, each with the reason."""
    return await bank_transfers.review_list(parts.engine)


@router.get("/api/admin/payments/refunds")
async def refunds_due(parts: AppServices, _admin: Organiser):
    """The bank transfers owed back (a paid order cancelled, a payment that came too late), not sent yet: order,
    amount, payer and account, the reason; `by_hand` when the statement did not name the payer's account."""
    return await refunds.due(parts.engine)


@router.post("/api/admin/payments/refunds/sepa", responses={200: {"content": {"application/xml": {}}}})
async def refunds_sepa(parts: AppServices, admin: Organiser):
    """The due bank refunds as a SEPA credit transfer file (pain.001.001.03) for the organiser's bank, from the
    account they were paid into; each is marked sent and goes into no other file. 409 when none can go."""
    try:
        made = await refunds.sepa_file(parts.engine)
    except refunds.NothingToRefund as exc:
        raise HTTPException(409, str(exc)) from None
    log.info("%s exported %d refunds (%d cents) as a SEPA file; %d left to refund by hand", admin.username,
             made.count, made.total_cents, made.left_by_hand)
    return Response(made.xml, media_type="application/xml", headers={
        "Content-Disposition": 'attachment; filename="festflow-refunds.xml"', "X-Refunds": str(made.count),
        "X-Refunds-Total-Cents": str(made.total_cents), "X-Refunds-By-Hand": str(made.left_by_hand)})


@router.get("/api/admin/payments/reconciliation")
async def reconciliation(parts: AppServices, _admin: Organiser):
    """Each recent card payment compared with its PaymentIntent at Stripe: the differences, for a person (an
    empty list when all agree); 404 while Stripe is off, 503 while it cannot be reached."""
    if parts.cards is None:
        raise HTTPException(404, "card payments are not enabled here (set STRIPE_SECRET_KEY)")
    try:
        return await card_payments.reconcile(parts.engine, parts.cards)
    except stripe.StripeError as exc:
        raise HTTPException(503, f"Stripe cannot be asked right now: {exc.user_message or exc}",
                            headers={"Retry-After": "30"}) from None


@router.post("/api/admin/payments/orders/{order_id}/paid", status_code=202)
async def mark_paid(parts: AppServices, admin: Organiser, order_id: str):
    """The organiser took the money themselves (box office, cash): the order awaiting payment is paid, and the
    inventory turns its hold into the sale (or, past its deadline, reinstates it while the tickets are free). 202:
    on its way; 404 when no payment of it is awaited; 409 when it is paid (or marked) already."""
    try:
        await bank_transfers.mark_paid(parts.engine, order_id, admin.username)
    except bank_transfers.NotAwaited as refused:
        raise HTTPException(refused.status, refused.detail) from None
    parts.relay.notify()
    log.info("order %s marked paid by %s", order_id[:8], admin.username)
    return {"order_id": order_id, "payment": "marked paid"}


@router.get("/api/admin/payments/orders/{order_id}")
async def order_payment(parts: AppServices, _admin: Organiser, order_id: str):
    """What the payment service knows of an order: the transfer it awaits (`awaited`: amount, received so far,
    status awaiting | paid | review | refund, with the reason of a refund) and its card payment (`card`: the
    Stripe intent, status prepared | authorised | captured | cancelled | refunded | failed, and what is still to
    be asked of Stripe); 404 when it knows nothing of it."""
    found = await card_payments.payment_of(parts.engine, order_id)
    if found["awaited"] is None and found["card"] is None:
        raise HTTPException(404, "no payment of this order is known here")
    return found


@router.post("/api/payments/stripe/webhook")
async def stripe_webhook(request: Request, parts: AppServices,
                         stripe_signature: Annotated[str | None, Header()] = None):
    """Stripe's events (set this URL in the Stripe dashboard): 200 once an event is kept (a duplicate too,
    changing nothing); 400 for a body or signature that does not verify, or one older than the tolerance;
    404 while Stripe is not enabled (STRIPE_WEBHOOK_SECRET)."""
    secret = parts.settings.stripe_webhook_secret
    if not secret:
        raise HTTPException(404, "Stripe is not enabled here (set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET)")
    try:
        received = await stripe_webhooks.receive(parts.engine, await request.body(), stripe_signature, secret,
                                                 parts.settings.stripe_webhook_tolerance_seconds)
    except stripe_webhooks.BadWebhook as exc:
        log.warning("a Stripe webhook was refused: %s", exc)
        raise HTTPException(400, str(exc)) from exc
    if not received.duplicate:
        parts.worker.notify()
    return {"received": received.event_id, "type": received.type, "duplicate": received.duplicate}


@router.get("/healthz")
async def healthz(parts: AppServices):
    checks = {"database": await database.health(parts.engine)}
    return health_answer(checks)
