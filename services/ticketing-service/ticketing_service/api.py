"""The ticketing API behind the gateway: a buyer's tickets and their QR codes, holder names, and the
gate's check-in (staff and admins)."""
from __future__ import annotations

import csv
import io
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from festflow_contracts.tokens import COOKIE_NAME, Identity, InvalidToken, bearer_token
from festflow_runtime.text import plain_text
from ticketing_service import attendees, checkin, qr, resending, ticket_changes
from ticketing_service.bootstrap import Services
from ticketing_service.db import tickets
from ticketing_service.issuing import ticket_view

router = APIRouter(tags=["tickets"])
GATE_ROLES = ("admin", "staff")


def services(request: Request) -> Services:
    return request.app.state.services


AppServices = Annotated[Services, Depends(services)]


async def caller(request: Request, parts: AppServices,
                 authorization: Annotated[str | None, Header()] = None) -> Identity:
    token = bearer_token(authorization) or request.cookies.get(COOKIE_NAME)
    try:
        return parts.verifier.verify(token)
    except InvalidToken as exc:
        raise HTTPException(401, f"authentication required: {exc}", headers={"WWW-Authenticate": "Bearer"}) from exc


async def gate_staff(identity: Annotated[Identity, Depends(caller)]) -> Identity:
    if identity.role not in GATE_ROLES:
        raise HTTPException(403, "gate staff or admin role required")
    return identity


Caller = Annotated[Identity, Depends(caller)]
GateStaff = Annotated[Identity, Depends(gate_staff)]


async def _ticket_for(parts: Services, code: str, identity: Identity) -> dict[str, Any]:
    async with parts.engine.connect() as conn:
        row = (await conn.execute(sa.select(tickets).where(tickets.c.code == code.upper()))).mappings().first()
    # another buyer's ticket is indistinguishable from a missing one
    if row is None or (row["username"] != identity.username and identity.role not in GATE_ROLES):
        raise HTTPException(404, "no such ticket")
    return ticket_view(row)


@router.get("/api/tickets/{code}")
async def get_ticket(parts: AppServices, code: str, identity: Caller):
    """One ticket: `code`, type (`ticket_id`, `name`), `holder`, `status` (valid | used | void), when and
    where it was used, the festival, and its QR code's URL (`qr_url`)."""
    return await _ticket_for(parts, code, identity)


@router.get("/api/tickets/{code}/qr.svg", responses={200: {"content": {"image/svg+xml": {}}}})
async def ticket_qr(parts: AppServices, code: str, identity: Caller, scale: int = 6):
    ticket = await _ticket_for(parts, code, identity)
    return Response(qr.svg(ticket["qr"], max(2, min(scale, 16))), media_type="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600"})


class Holder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    holder: str = Field(max_length=120)

    @field_validator("holder")
    @classmethod
    def _text(cls, value: str) -> str:
        return plain_text(value).strip()


@router.put("/api/tickets/{code}/holder")
async def put_holder(parts: AppServices, code: str, body: Holder, identity: Caller):
    """The name of who will use the ticket (its buyer only; not once it is used or void)."""
    ticket = await _ticket_for(parts, code, identity)
    if ticket["status"] != "valid":
        raise HTTPException(409, f"this ticket is {ticket['status']}: its holder can no longer change")
    if identity.username != (await _owner(parts, ticket["code"])):
        raise HTTPException(403, "only the ticket's buyer can name its holder")
    changed = await ticket_changes.set_holder(parts.engine, ticket["code"], body.holder)
    parts.relay.notify()
    return changed


async def _owner(parts: Services, code: str) -> str:
    async with parts.engine.connect() as conn:
        return str(await conn.scalar(sa.select(tickets.c.username).where(tickets.c.code == code)))


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=400, description="the QR code's text, or the ticket's code typed")
    gate: str = Field(min_length=1, max_length=60)

    @field_validator("code", "gate")
    @classmethod
    def _text(cls, value: str) -> str:
        return plain_text(value).strip()


@router.post("/api/checkin/scan", responses={409: {"description": "already used"}, 404: {}, 410: {},
                                             422: {"description": "the signature does not verify"}})
async def scan(parts: AppServices, body: ScanIn, _staff: GateStaff):
    """Admits a ticket once: 200 `{"result": "admitted", ...ticket}`; then 409 `already_used` with `at`
    and `gate`; 404 for an unknown code, 410 for a void ticket, 422 for a payload that is not signed by
    FestFlow."""
    found = await checkin.scan(parts.engine, body.code, body.gate, parts.signer, parts.settings.festival_id)
    if found.status == 200:
        parts.relay.notify()
    answer: dict[str, Any] = {"result": found.result, "detail": found.detail, **(found.ticket or {})}
    if found.result == "already_used" and found.ticket:
        answer |= {"at": found.ticket["used_at"], "gate": found.ticket["gate"]}
    answer.pop("qr", None)
    return JSONResponse(answer, status_code=found.status)


@router.get("/api/checkin/stats")
async def checkin_stats(parts: AppServices, _staff: GateStaff):
    """Per ticket type: tickets issued and checked in."""
    return await checkin.stats(parts.engine)


@router.get("/api/checkin/attendees.csv", responses={200: {"content": {"text/csv": {}}}})
async def attendees_csv(parts: AppServices, _staff: GateStaff):
    """Every ticket: code, type, holder, buyer, order, status and when and where it was checked in."""
    rows = await attendees.attendees(parts.engine)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=attendees.ATTENDEE_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="attendees.csv"'})


def _cell(value: Any) -> Any:
    """A text cell a spreadsheet will not run as a formula."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


@router.post("/api/checkin/orders/{order_id}/resend", status_code=202)
async def resend_tickets(parts: AppServices, order_id: str, identity: Caller):
    """Mails an order's tickets again, as they are now (organisers only)."""
    if not identity.is_admin:
        raise HTTPException(403, "admin role required")
    if not await resending.resend(parts.engine, order_id):
        raise HTTPException(404, "this order has no tickets")
    parts.relay.notify()
    return {"detail": "the tickets are on their way to the buyer again"}
