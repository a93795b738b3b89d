"""The waiting room's HTTP face: the room as anyone sees it and its draw; a buyer joins and asks where they
are; the organiser sets it up. Routes translate; room.py decides."""
from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from festflow_contracts.tokens import COOKIE_NAME
from festflow_runtime import database
from festflow_runtime.api_auth import Caller, Organiser
from festflow_runtime.health import health_answer
from waiting_room import live, room
from waiting_room.accounts import AccountsUnavailable
from waiting_room.bootstrap import Services

router = APIRouter(tags=["waiting room"])


def services(request: Request) -> Services:
    return request.app.state.services


AppServices = Annotated[Services, Depends(services)]




def _standing_view(standing: room.Standing) -> dict[str, Any]:
    view = asdict(standing)
    view["pass"] = view.pop("pass_token")
    return view


@router.get("/api/waiting-room")
async def the_room(parts: AppServices):
    """The room: whether it is on, when it opens and the sale starts, the commitment (SHA-256 of the seed),
    and from the draw on the seed itself and how the places follow from it (`derivation`)."""
    return room.public_view(await room.load(parts.engine))


@router.get("/api/waiting-room/draw")
async def the_draw(parts: AppServices):
    """Every place drawn at the start with its join id and key (HMAC-SHA256 of the join id with the seed):
    404 before the draw."""
    drawn = await room.draw_list(parts.engine)
    if drawn is None:
        raise HTTPException(404, "the places are drawn when the sale starts")
    return drawn


@router.post("/api/waiting-room/join")
async def join(request: Request, parts: AppServices, identity: Caller):
    """The caller takes a place (joining again keeps it): where they are now, as GET /api/waiting-room/me. Only
    a verified account (its address confirmed) takes one: 403 otherwise."""
    authorization = request.headers.get("authorization") or f"Bearer {request.cookies.get(COOKIE_NAME, '')}"
    try:
        verified = await parts.accounts.verified(authorization)
    except AccountsUnavailable as exc:
        raise HTTPException(503, f"{exc}; try again in a moment", headers={"Retry-After": "2"}) from None
    if not verified:
        await room.count_unverified(parts.engine)
        raise HTTPException(403, "confirm your email address first: open the link in the mail we sent you")
    try:
        await parts.joins.join(identity.username)
    except room.RoomError as refused:
        raise HTTPException(refused.status, refused.detail) from None
    return await me(parts, identity)


@router.get("/api/waiting-room/me")
async def me(parts: AppServices, identity: Caller):
    """Where the caller is: `state` (closed, not_joined, before_start, waiting, admitted, bought, expired,
    sold_out), `place`, `ahead`, `estimate_seconds`, and once admitted the `pass` and when it expires."""
    return _standing_view(await room.standing(parts.engine, identity.username, parts.settings.waiting_room_secret,
                                              parts.settings.checkout_capacity_per_second))


@router.get("/api/waiting-room/me/events")
async def my_events(parts: AppServices, identity: Caller):
    """Server-sent events `standing` (as /me, without the pass) whenever the caller's place changes, and at
    least every 4 s: the waiting page's live updates."""
    stream = live.standings(parts.engine, parts.clock, identity.username, parts.settings.waiting_room_secret,
                            parts.settings.checkout_capacity_per_second)
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/api/admin/waiting-room/report")
async def the_report(parts: AppServices, _organiser: Organiser):
    """The drop live, and afterwards its fairness report: `joined`, `drawn` (joined before the start), `late`,
    `admitted`, `bought`, `buying_now` (a live pass), `turn_passed` (the pass ran out unused), `waiting`,
    `repeat_joins` (an account joining again: its place kept), `refused_unverified` (address not confirmed),
    `tickets_left`, `sold_out_at`, `sold_out_after_seconds` (after the start), and the room as
    GET /api/waiting-room shows it (the commitment, the seed from the draw); 404 without a room."""
    found = await room.report(parts.engine)
    if found is None:
        raise HTTPException(404, "there is no waiting room")
    return found


@router.put("/api/admin/waiting-room")
async def set_up(parts: AppServices, _organiser: Organiser, setup: room.RoomSetup):
    """Sets the waiting room up: `enabled`, `opens_at` (the pre-queue), `starts_at` (the draw), `pass_minutes`
    (1-60, default 10), `per_minute` (a fixed admission rate; null: the sale's capacity), `reset` (a new round:
    a new seed, every place given up)."""
    try:
        view = await room.configure(parts.engine, setup)
    except room.RoomError as refused:
        raise HTTPException(refused.status, refused.detail) from None
    parts.relay.notify()
    return view


@router.get("/healthz")
async def healthz(parts: AppServices):
    checks = {"database": await database.health(parts.engine)}
    return health_answer(checks)
