"""Orders: POST /api/orders answers 202 once the order and its command are committed (the command relay
takes it to RabbitMQ); GET /api/orders and /api/orders/{id} show the caller's own orders, every one
that was ever answered 202, from the moment it was."""
from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Header, HTTPException, Query, Response

from festflow_contracts import waiting_pass
from festflow_contracts.tokens import Identity
from order_service.cancellation import ABANDONED, request_cancel
from order_service.checkout_http import OrderIn, checkout, valid_key
from order_service.db import orders, users
from order_service.deps import AppServices, CurrentUser
from order_service.invoices import credit_note_pdf, invoice_pdf
from order_service.ordering import OrderRefused
from order_service.payment_choice import request_bank_transfer
from order_service.views import order_view

router = APIRouter(prefix="/api", tags=["orders"])


@router.post("/orders", status_code=202)
async def place_order(
    services: AppServices, body: OrderIn, identity: CurrentUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    waiting_room_pass: Annotated[str | None, Header(alias=waiting_pass.HEADER)] = None,
):
    """Places an order: 202 once it and its command are committed. In the running service a well-formed,
    authenticated checkout is answered by the checkout lane before it gets here, with the same answer.
    While the sale has a waiting room, the buyer's pass comes in the X-Waiting-Room-Pass header: without a
    valid one (missing, forged, another's, expired, or used for another order) 403 with the reason."""
    if not valid_key(idempotency_key):
        raise HTTPException(400, "an Idempotency-Key header (1-200 characters) is required")
    assert idempotency_key is not None
    return await checkout(services, identity, idempotency_key, body, waiting_room_pass)


@router.get("/orders")
async def my_orders(services: AppServices, identity: CurrentUser,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100,
                    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0):
    """The caller's orders, newest first, `limit` at a time from `offset`."""
    async with services.engine.connect() as conn:
        rows = (await conn.execute(
            sa.select(orders).where(orders.c.username == identity.username)
            .order_by(orders.c.created_at.desc(), orders.c.order_id).limit(limit).offset(offset))).mappings().all()
    return [order_view(row) for row in rows]


@router.get("/orders/{order_id}")
async def get_order(services: AppServices, order_id: str, identity: CurrentUser):
    async with services.engine.connect() as conn:
        row = (await conn.execute(sa.select(orders).where(
            orders.c.order_id == order_id, orders.c.username == identity.username))).mappings().first()
    if row is None:  # another user's order is indistinguishable from a missing one
        raise HTTPException(404, "no such order")
    return order_view(row)


async def _documented_order(services: AppServices, order_id: str, identity: Identity) -> Any:
    """The order with its buyer's email, for its buyer or an organiser (None for anyone else: as if missing)."""
    async with services.engine.connect() as conn:
        query = (sa.select(orders, users.c.email)
                 .select_from(orders.outerjoin(users, users.c.username == orders.c.username))
                 .where(orders.c.order_id == order_id))
        if not identity.is_admin:
            query = query.where(orders.c.username == identity.username)
        return (await conn.execute(query)).mappings().first()


def _pdf(pdf: bytes, name: str) -> Response:
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{name}.pdf"', "Cache-Control": "private"})


@router.get("/orders/{order_id}/invoice.pdf", responses={200: {"content": {"application/pdf": {}}}})
async def invoice(services: AppServices, order_id: str, identity: CurrentUser):
    """The invoice of a confirmed order with something paid, for its buyer and for an organiser (404 for anyone
    else, and for an order without an invoice: not confirmed, or free)."""
    row = await _documented_order(services, order_id, identity)
    if row is None or not row["invoice_number"]:
        raise HTTPException(404, "no invoice for this order" if row else "no such order")
    pdf = invoice_pdf(dict(row), {"username": row["username"], "email": row["email"] or ""},
                      row["seller"] or services.catalog.festival or await services.inventory.festival())
    return _pdf(pdf, f"invoice-{row['invoice_number']}")


@router.get("/orders/{order_id}/credit-notes/{number}.pdf", responses={200: {"content": {"application/pdf": {}}}})
async def credit_note(services: AppServices, order_id: str, number: str, identity: CurrentUser):
    """The credit note of a cancellation of something the order paid (the whole order, or some of its tickets),
    for its buyer and for an organiser: it names the invoice it corrects; 404 for anyone else or another number."""
    row = await _documented_order(services, order_id, identity)
    note = next((n for n in (row["credit_notes"] or []) if n["number"] == number), None) if row else None
    if row is None or note is None:
        raise HTTPException(404, "no such credit note" if row else "no such order")
    pdf = credit_note_pdf(dict(row), note, {"username": row["username"], "email": row["email"] or ""},
                          row["seller"] or services.catalog.festival or await services.inventory.festival())
    return _pdf(pdf, f"credit-note-{number}")


@router.post("/orders/{order_id}/abandon", status_code=202)
async def abandon_order(services: AppServices, order_id: str, identity: CurrentUser):
    """The buyer gives up their order awaiting payment: its tickets go back on sale at once (the order shows
    CANCELLED when the inventory has done it). 409 for an order that is not awaiting payment."""
    try:
        answer = await request_cancel(services.engine, order_id, ABANDONED, buyer=identity.username)
    except OrderRefused as refused:
        raise HTTPException(refused.status, str(refused)) from None
    services.commands.notify()
    return answer


@router.post("/orders/{order_id}/bank-transfer", status_code=202)
async def pay_by_bank_transfer(services: AppServices, order_id: str, identity: CurrentUser):
    """The buyer pays their order held for a card payment by bank transfer instead: its tickets are then held
    for the festival's transfer term (the order's `payment` shows the account, the reference and the new
    deadline once the inventory has done it). 409 with the reason when the order cannot be switched."""
    try:
        answer = await request_bank_transfer(services.engine, order_id, identity.username)
    except OrderRefused as refused:
        raise HTTPException(refused.status, str(refused)) from None
    services.commands.notify()
    return answer
