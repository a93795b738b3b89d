"""What the cart fragment shows: the buyer's cart (kept by the order API) set against the live catalog.

Each line gets its price and subtotal from the catalog and a problem when it cannot be bought as it is
(retired, sold out, not enough left); any problem disables CHECKOUT with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from festflow_contracts.money import cents_to_str

CATALOG_DOWN = ("Prices and availability cannot be shown right now. You can still check out: "
                "your order will be confirmed or rejected in a moment.")


@dataclass(frozen=True)
class PageLine:
    ticket_id: str
    name: str
    quantity: int
    price: str | None
    subtotal: str | None
    problem: str | None


@dataclass
class CartPage:
    version: int = 0
    lines: list[PageLine] = field(default_factory=list)
    total: str = "0.00"
    notice: str | None = None
    last_order: dict[str, Any] | None = None
    catalog_down: bool = False

    @property
    def blocked(self) -> str | None:
        """Why CHECKOUT is disabled, or None. With the catalog unknown nothing is known to be wrong: the
        order service still takes the order, and the inventory confirms or rejects it."""
        problems = [f"{line.name}: {line.problem}" for line in self.lines if line.problem]
        if problems:
            return "Fix your cart to check out (" + "; ".join(problems) + ")."
        return None


def build(cart: dict[str, Any], catalog: dict[str, dict[str, Any]] | None) -> CartPage:
    """`cart` as GET /api/cart returns it; `catalog` the tickets on sale by id, or None if unknown."""
    page = CartPage(version=cart["version"], notice=cart.get("notice"), last_order=cart.get("last_order"),
                    catalog_down=catalog is None)
    total = 0
    for item in cart["items"]:
        ticket = (catalog or {}).get(item["ticket_id"])
        quantity = item["quantity"]
        if ticket is None:
            problem = None if catalog is None else "no longer on sale"
            page.lines.append(PageLine(item["ticket_id"], item["name"], quantity, None, None, problem))
            continue
        subtotal = ticket["price_cents"] * quantity
        total += subtotal
        stock = ticket["stock"]
        problem = ("sold out" if stock <= 0 else
                   f"only {stock} left" if stock < quantity else None)
        page.lines.append(PageLine(item["ticket_id"], ticket["name"], quantity, ticket["price"],
                                   cents_to_str(subtotal), problem))
    page.total = cents_to_str(total) or "0.00"
    return page
