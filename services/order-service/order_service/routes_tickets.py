"""GET /api/tickets: the catalog on sale; GET /api/festival: what it is for, with its banner image."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Response

from festflow_contracts import sale_window
from festflow_contracts.money import cents_to_str
from order_service.deps import AppServices
from order_service.inventory_client import InventoryUnavailable
from order_service.views import public_festival

router = APIRouter(prefix="/api", tags=["tickets"])


def public_ticket(t: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    starts, ends = t.get("sale_starts_at"), t.get("sale_ends_at")
    return {"id": t["id"], "name": t["name"], "price": cents_to_str(t["price_cents"]),
            "price_cents": t["price_cents"], "stock": t["stock"], "description": t.get("description") or "",
            "sale_starts_at": starts, "sale_ends_at": ends,
            "sale_state": sale_window.state(starts, ends, now or datetime.now(UTC)),
            "per_buyer_limit": t.get("per_buyer_limit")}


@router.get("/tickets")
async def list_tickets(services: AppServices):
    """Tickets on sale. `price` is a decimal string in euros ("89.00"); `price_cents` the same in cents.
    `sale_state` is `upcoming` (before `sale_starts_at`), `open` or `ended` (after `sale_ends_at`)."""
    try:
        tickets = await services.inventory.tickets()
    except InventoryUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    now = datetime.now(UTC)
    return [public_ticket(t, now) for t in tickets]


@router.get("/festival")
async def get_festival(services: AppServices):
    """The festival: name, dates (`starts_on`, `ends_on`: YYYY-MM-DD), venue, address, description and the
    banner image's URL (null without one); `waiting_room` (`{"prequeue_opens_at", "sale_starts_at",
    "ticket_ids"}`, or null): the sale has a waiting room the buyers queue in (/cart/waiting-room), and checking
    out its ticket types (`[]`: every type) needs its pass from `prequeue_opens_at`."""
    if services.catalog.festival is None:
        try:
            services.catalog.apply_festival(await services.inventory.festival())
        except InventoryUnavailable as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "2"}) from exc
    if services.catalog.festival is None:
        raise HTTPException(503, "the festival's details are not loaded yet", headers={"Retry-After": "2"})
    return public_festival(services.catalog.festival) | {"waiting_room": services.gate.view()}


@router.get("/festival/banner", responses={200: {"content": {"image/png": {}}}, 404: {}})
async def get_banner(services: AppServices, v: int = 0):
    """The banner image. Its URL carries its version, so a new image has a new URL and each may be cached."""
    try:
        resp = await services.inventory.call_raw("GET", "/internal/festival/banner")
    except InventoryUnavailable as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "2"}) from exc
    if resp.status_code == 404:
        raise HTTPException(404, "the festival has no banner")
    if resp.status_code != 200:
        raise HTTPException(503, "the banner is unavailable right now", headers={"Retry-After": "2"})
    cache = "public, max-age=86400, immutable" if v else "no-cache"
    return Response(resp.content, media_type=resp.headers.get("content-type", "application/octet-stream"),
                    headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})
