"""The payment API behind the gateway: the organiser imports bank statements and sees what needs a person;
Stripe's webhooks arrive."""
from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse

from festflow_contracts.tokens import COOKIE_NAME, Identity, InvalidToken, bearer_token
from festflow_runtime import database
from payment_service import bank_transfers, stripe_webhooks
from payment_service.bootstrap import Services
from payment_service.statements import StatementUnreadable

router = APIRouter(tags=["payments"])
log = logging.getLogger("payment_service.statements")


def services(request: Request) -> Services:
    return request.app.state.services


AppServices = Annotated[Services, Depends(services)]


async def organiser(request: Request, parts: AppServices,
                    authorization: Annotated[str | None, Header()] = None) -> Identity:
    try:
        identity = parts.verifier.verify(bearer_token(authorization) or request.cookies.get(COOKIE_NAME))
    except InvalidToken as exc:
        raise HTTPException(401, f"authentication required: {exc}", headers={"WWW-Authenticate": "Bearer"}) from exc
    if not identity.is_admin:
        raise HTTPException(403, "admin role required")
    return identity


AdminUser = Annotated[Identity, Depends(organiser)]


@router.post("/api/admin/payments/bank-statements")
async def import_bank_statement(parts: AppServices, admin: AdminUser, file: UploadFile):
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
async def review(parts: AppServices, _admin: AdminUser):
    """The statement lines a person must look at (no reference, nobody awaits it, partial, over-paid,
    another currency, paid twice), newest first, each with the reason."""
    return await bank_transfers.review_list(parts.engine)


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
    return {"received": received.event_id, "type": received.type, "duplicate": received.duplicate}


@router.get("/healthz")
async def healthz(parts: AppServices):
    checks = {"database": await database.health(parts.engine)}
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status_code=200 if healthy else 503)
