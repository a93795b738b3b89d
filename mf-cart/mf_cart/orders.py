"""The buyer's orders: My orders (a page at a time) and one order's lines, status and times; for an order
awaiting payment, how to pay it (payment.py) or abandon it."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from festflow_contracts.money import cents_to_str
from festflow_runtime.api_answers import reason
from festflow_runtime.fragment_app import render
from festflow_runtime.web_auth import CurrentUser, Visitor
from mf_cart.payment import pay_box
from mf_cart.web import order_api, payment_api

router = APIRouter()
PAGE_SIZE = 20


@router.get("/cart/fragments/v1/my-orders", response_class=HTMLResponse)
async def my_orders(request: Request, identity: Visitor, page: int = 1):
    """The buyer's orders, newest first, PAGE_SIZE a page; a banner while the address is unconfirmed."""
    page = min(max(page, 1), 10_000)
    orders, error, more, unverified = [], None, False, False
    if identity:
        found = await order_api(request, "GET", "/api/orders",
                                params={"limit": PAGE_SIZE + 1, "offset": (page - 1) * PAGE_SIZE})
        if found.ok:
            more, orders = len(found.body) > PAGE_SIZE, found.body[:PAGE_SIZE]
            me = await order_api(request, "GET", "/api/auth/me")
            unverified = me.ok and me.body.get("email_verified") is False
        else:
            error = "Your orders cannot be loaded right now."
    return render(request, "my_orders.html", {"identity": identity, "orders": orders, "error": error, "page": page,
                                              "more": more, "unverified": unverified})


def order_line(item: dict[str, Any]) -> dict[str, Any]:
    unit = item.get("unit_price_cents")
    return {"name": item.get("name") or item["ticket_id"], "quantity": item["quantity"],
            "price": cents_to_str(unit), "subtotal": cents_to_str(None if unit is None else unit * item["quantity"])}


@router.get("/cart/fragments/v1/order/{order_id}", response_class=HTMLResponse)
async def order_detail(request: Request, identity: Visitor, order_id: str):
    """One order: its lines with prices, status, reason, total and times; how to pay it while it waits."""
    return await _order_page(request, identity, order_id)


@router.post("/cart/orders/{order_id}/abandon", response_class=HTMLResponse)
async def abandon(request: Request, identity: CurrentUser, order_id: str):
    """The buyer cancels their unpaid order: its tickets go back on sale at once. The order's fragment again,
    saying what happened or why not (without script: back to the order's page)."""
    answer = await order_api(request, "POST", f"/api/orders/{quote(order_id, safe='')}/abandon")
    if not request.headers.get("HX-Request"):
        return RedirectResponse(f"/cart/orders/{quote(order_id, safe='')}", status_code=303)
    notice = ("Cancelled: its tickets are going back on sale and nothing is owed." if answer.ok
              else reason(answer.body) if answer.reached else "The order service cannot be reached right now.")
    return await _order_page(request, identity, order_id, notice=(answer.ok, notice))


@router.post("/cart/orders/{order_id}/bank-transfer", response_class=HTMLResponse)
async def bank_transfer(request: Request, identity: CurrentUser, order_id: str):
    """The buyer of an order held for a card payment pays it by bank transfer instead: the order's fragment
    again, saying so (it looks again each second until the account and the longer deadline are there)."""
    answer = await order_api(request, "POST", f"/api/orders/{quote(order_id, safe='')}/bank-transfer")
    if not request.headers.get("HX-Request"):
        return RedirectResponse(f"/cart/orders/{quote(order_id, safe='')}", status_code=303)
    notice = ("A bank transfer it is: the account and the reference appear here in a moment." if answer.ok
              else reason(answer.body) if answer.reached else "The order service cannot be reached right now.")
    return await _order_page(request, identity, order_id, notice=(answer.ok, notice), switching=answer.ok)


@router.post("/cart/orders/{order_id}/card", response_class=HTMLResponse)
async def pay_by_card(request: Request, identity: CurrentUser, order_id: str):
    """Starts the card payment of an order awaiting payment (a Stripe PaymentIntent, authorised on this page by
    Stripe's own card form, captured only once the tickets are sold): the card form's fragment, or why not."""
    answer = await payment_api(request, "POST", f"/api/payments/orders/{quote(order_id, safe='')}/card")
    page = f"/cart/orders/{quote(order_id, safe='')}"
    if not request.headers.get("HX-Request"):
        return RedirectResponse(page, status_code=303)  # the card form needs Stripe's script
    body = answer.body if answer.ok and isinstance(answer.body, dict) else {}
    error = (None if answer.ok and body.get("client_secret")
             else reason(answer.body) if answer.reached and not answer.ok
             else "Card payments cannot be reached right now; try again in a moment.")
    return render(request, "card_form.html", {"order_id": order_id, "error": error, "page": page,
                                              "client_secret": body.get("client_secret", ""),
                                              "publishable_key": body.get("publishable_key", ""),
                                              "amount": cents_to_str(body.get("amount_cents") or 0)})


async def _order_page(request: Request, identity: Any, order_id: str,
                      notice: tuple[bool, str] | None = None, switching: bool = False) -> HTMLResponse:
    order, error, status = None, None, 200
    if identity:
        found = await order_api(request, "GET", f"/api/orders/{quote(order_id, safe='')}")
        if found.status == 404:
            error, status = "There is no such order in your account.", 404
        elif found.ok:
            order = found.body
        else:
            error = "This order cannot be loaded right now; try again in a moment."
    lines = [order_line(item) for item in order["items"]] if order else []
    # a cancellation on its way: no more paying, and the page looks again each second until it is done
    cancelling = bool(notice and notice[0] and order and order["status"] == "AWAITING_PAYMENT" and not switching)
    # a bank transfer on its way: the page looks again each second until the order shows it
    switching = bool(switching and order and (order.get("payment") or {}).get("method") == "card")
    return render(request, "order.html", {"identity": identity, "order": order, "lines": lines, "error": error,
                                          "order_id": order_id, "notice": notice, "cancelling": cancelling,
                                          "switching": switching,
                                          "pay": pay_box(order) if order and not (cancelling or switching) else None},
                  status_code=status)
