"""GET /api/tickets: the catalog on sale, as the inventory service reports it."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from festflow_contracts.money import cents_to_str
from order_service.inventory_client import CatalogUnavailable

router = APIRouter(prefix="/api", tags=["tickets"])


def public_ticket(t: dict) -> dict:
    return {"id": t["id"], "name": t["name"], "price": cents_to_str(t["price_cents"]),
            "price_cents": t["price_cents"], "stock": t["stock"]}


@router.get("/tickets")
async def list_tickets(request: Request):
    """Tickets on sale. `price` is a decimal string in euros ("89.00"); `price_cents` the same in cents."""
    try:
        tickets = await request.app.state.inventory.tickets()
    except CatalogUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    return [public_ticket(t) for t in tickets]
