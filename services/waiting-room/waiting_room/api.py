"""The waiting room's HTTP face: the room as anyone sees it and its draw; a buyer joins and asks where they
are; the organiser sets it up. Routes translate; room.py decides."""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import StreamingResponse

from festflow_contracts import waiting_pass
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




def _standing_answer(standing: room.Standing, response: Response, cookie_secure: bool) -> dict[str, Any]:
    """The standing as the API answers it (the pass as `pass`); when admitted, the pass also goes into the
    cookie `festflow_pass` for the pages (the cart sends it with the checkout)."""
    view = asdict(standing)
    view["pass"] = view.pop("pass_token")
    if standing.pass_token and standing.pass_expires:
        lasts = max(1, int(standing.pass_expires - time.time()))
        response.set_cookie(waiting_pass.COOKIE, standing.pass_token, max_age=lasts, httponly=True,
                            samesite="lax", path="/", secure=cookie_secure)
    return view


@router.get("/api/queue")
async def the_room(parts: AppServices):
    """The room: whether it is on, when the pre-queue opens (`prequeue_opens_at`) and the sale starts
    (`sale_starts_at`), the pass's minutes, the admission rate (`admit_per_minute`, null: automatic), the
    commitment (SHA-256 of the seed), and from the draw on the seed itself."""
    return room.public_view(await room.load(parts.engine))


@router.get("/api/queue/fairness")
async def fairness(parts: AppServices):
    """What anyone checks the draw with: before the start `{"commitment", "derivation"}`; from the start also
    the `seed`, `drawn_at` and every drawn place (`places`: place, join id, key = HMAC-SHA256 of the join id
    with the seed), so the order can be recomputed. 404 without a room."""
    found = await room.fairness(parts.engine)
    if found is None:
        raise HTTPException(404, "there is no waiting room")
    return found


@router.post("/api/queue/join")
async def join(request: Request, response: Response, parts: AppServices, identity: Caller):
    """The caller takes a place (joining again keeps it): where they are now, as GET /api/queue/me. Only a
    verified account (its address confirmed) takes one: 403 otherwise."""
    authorization = request.headers.get("authorization") or f"Bearer {request.cookies.get(COOKIE_NAME, '')}"
    try:  # a token issued after the address was confirmed says so; an older one: the order service is asked
        verified = identity.email_verified or await parts.accounts.verified(authorization)
    except AccountsUnavailable as exc:
        raise HTTPException(503, f"{exc}; try again in a moment", headers={"Retry-After": "2"}) from None
    if not verified:
        await room.count_unverified(parts.engine)
        raise HTTPException(403, "confirm your email address first: open the link in the mail we sent you")
    try:
        await parts.joins.join(identity.username)
    except room.RoomError as refused:
        raise HTTPException(refused.status, refused.detail) from None
    return await me(response, parts, identity)


@router.get("/api/queue/me")
async def me(response: Response, parts: AppServices, identity: Caller):
    """Where the caller is: `state` (prequeue, waiting, admitted, sold_out; also closed, not_joined, bought,
    expired), `position`, `ahead`, `eta_seconds`, and once admitted the `pass` (also set as the cookie
    `festflow_pass`) and when it expires (`pass_expires`, Unix seconds)."""
    standing = await room.standing(parts.engine, identity.username, parts.settings.waiting_room_secret,
                                   parts.settings.checkout_capacity_per_second)
    return _standing_answer(standing, response, parts.settings.cookie_secure)


@router.get("/api/queue/me/events")
async def my_events(parts: AppServices, identity: Caller):
    """Server-sent events `standing` (as /me, without the pass) whenever the caller's place changes, and at
    least every 4 s: the waiting page's live updates."""
    stream = live.standings(parts.engine, parts.clock, parts.reader, identity.username,
                            parts.settings.waiting_room_secret, parts.settings.checkout_capacity_per_second)
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/api/admin/waiting-room")
async def the_setup(parts: AppServices, _organiser: Organiser):
    """The room as the organiser set it up (as PUT takes it, with the commitment and the draw's state);
    `{"enabled": false}` before it was ever set up."""
    return room.public_view(await room.load(parts.engine))


@router.get("/api/admin/waiting-room/report")
async def the_report(parts: AppServices, _organiser: Organiser):
    """The drop live, and afterwards its fairness report: `joined`, `drawn` (joined before the start), `late`,
    `admitted`, `bought`, `buying_now` (a live pass), `turn_passed` (the pass ran out unused), `waiting`,
    `repeat_joins` (an account joining again: its place kept), `refused_unverified` (address not confirmed),
    `tickets_left`, `sold_out_at`, `sold_out_after_seconds` (after the start), and the room as
    GET /api/queue shows it (the commitment, the seed from the draw); 404 without a room."""
    found = await room.report(parts.engine)
    if found is None:
        raise HTTPException(404, "there is no waiting room")
    return found


@router.put("/api/admin/waiting-room")
async def set_up(parts: AppServices, _organiser: Organiser, setup: room.RoomSetup):
    """Sets the waiting room up: `enabled`, `prequeue_opens_at`, `sale_starts_at` (the draw), `pass_minutes`
    (1-60, default 10), `admit_per_minute` (a fixed admission rate; null: automatic, the sale's capacity),
    `ticket_ids` (the ticket types behind the room; [] every one), `reset` (a new round: a new seed, every
    place given up)."""
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
