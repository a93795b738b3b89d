"""The cart page set against the live catalog: prices, totals, and lines that cannot be bought."""
from mf_cart.cart_page import build

CATALOG = {
    "vip": {"id": "vip", "name": "VIP Weekend", "price": "249.00", "price_cents": 24900, "stock": 2},
    "camping": {"id": "camping", "name": "Camping Pass", "price": "45.00", "price_cents": 4500, "stock": 0},
}


def cart(*items):
    return {"version": 3, "notice": None, "last_order": None,
            "items": [{"ticket_id": t, "name": n, "quantity": q} for t, n, q in items]}


def test_lines_get_prices_and_the_total_from_the_catalog():
    page = build(cart(("vip", "VIP Weekend", 2)), CATALOG)
    assert [(line.price, line.subtotal, line.problem) for line in page.lines] == [("249.00", "498.00", None)]
    assert page.total == "498.00" and page.blocked is None and page.version == 3


def test_not_enough_left_sold_out_and_retired_lines_block_checkout_with_the_reason():
    page = build(cart(("vip", "VIP Weekend", 3), ("camping", "Camping Pass", 1), ("gone", "Old Pass", 1)), CATALOG)
    assert [line.problem for line in page.lines] == ["only 2 left", "sold out", "no longer on sale"]
    assert page.lines[2].name == "Old Pass"  # a retired type keeps its name, never its id
    assert page.blocked == ("Fix your cart to check out (VIP Weekend: only 2 left; Camping Pass: sold out; "
                            "Old Pass: no longer on sale).")


def test_an_unknown_catalog_invents_no_problem_and_leaves_checkout_open():
    page = build(cart(("vip", "VIP Weekend", 1)), None)
    assert page.lines[0].problem is None and page.blocked is None and page.catalog_down
