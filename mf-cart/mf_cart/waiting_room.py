"""The waiting room's page (the buyer's side of the waiting room service): join, the countdown to the start,
the place and how many are ahead (the fragment looks again every few seconds), "your turn" with the time the
pass lasts, sold out. Going to checkout keeps the pass in the cookie `festflow_pass`, which this app sends
with the checkout (web.py)."""
from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from festflow_contracts import events, waiting_pass
from festflow_runtime.api_answers import reason
from festflow_runtime.fragment_app import parts, render
from festflow_runtime.web_auth import CurrentUser, Visitor
from mf_cart.web import waiting_room_api

router = APIRouter()
LOOK_AGAIN = {"prequeue": "5s", "waiting": "3s", "sold_out": "5s", "admitted": "15s"}


async def _fragment(request: Request, identity, notice: str | None = None) -> HTMLResponse:
    room, me, error = None, None, None
    answer = await waiting_room_api(request, "GET", "/api/queue")
    if not answer.reached or not answer.ok:
        error = "The waiting room cannot be reached right now; this page tries again in a moment."
    else:
        room = answer.body
        if identity and room.get("enabled"):
            mine = await waiting_room_api(request, "GET", "/api/queue/me")
            me = mine.body if mine.ok else None
            error = None if mine.ok else reason(mine.body)
    state = (me or {}).get("state")
    until = (me or {}).get("pass_expires")
    return render(request, "waiting_room.html", {
        "identity": identity, "room": room, "me": me, "error": error, "notice": notice,
        "pass_until": events.iso(datetime.fromtimestamp(until, UTC)) if until else None,
        "look_again": LOOK_AGAIN.get(state or "", "10s" if error else None)})


@router.get("/cart/fragments/v1/waiting-room", response_class=HTMLResponse)
async def fragment(request: Request, identity: Visitor):
    return await _fragment(request, identity)


@router.post("/cart/waiting-room/join", response_class=HTMLResponse)
async def join(request: Request, identity: CurrentUser):
    """Takes the buyer's place (joining again keeps it): the fragment again, or without script the page."""
    joined = await waiting_room_api(request, "POST", "/api/queue/join")
    if not request.headers.get("HX-Request"):
        return RedirectResponse("/cart/waiting-room", status_code=303)
    return await _fragment(request, identity, None if joined.ok else reason(joined.body))


@router.post("/cart/waiting-room/checkout")
async def to_checkout(request: Request, identity: CurrentUser):
    """The buyer's turn: the pass goes into the cookie the checkout sends, and on to the shop and its cart."""
    mine = await waiting_room_api(request, "GET", "/api/queue/me")
    if not mine.ok or mine.body.get("state") != "admitted":
        return RedirectResponse("/cart/waiting-room", status_code=303)
    response = RedirectResponse("/#cart", status_code=303)
    lasts = max(1, int(mine.body["pass_expires"] - time.time()))
    response.set_cookie(waiting_pass.COOKIE, mine.body["pass"], max_age=lasts, httponly=True, samesite="lax",
                        path="/", secure=parts(request).settings.cookie_secure)
    return response
