import uuid

from mf_cart.cart import MAX_LINES, MAX_QUANTITY, Cart


def test_round_trip_through_the_cookie_format():
    cart = Cart()
    assert cart.add("vip-weekend", 2) is None
    assert cart.add("camping-pass", 1) is None
    again = Cart.parse(cart.dump())
    assert again.items == {"vip-weekend": 2, "camping-pass": 1} and again.key == cart.key


def test_adding_the_same_ticket_adds_up_to_the_limit():
    cart = Cart()
    cart.add("vip", 6)
    assert cart.add("vip", 5) == f"At most {MAX_QUANTITY} of one ticket per order."
    assert cart.items["vip"] == 6
    assert cart.add("vip", 4) is None and cart.items["vip"] == 10


def test_bad_input_is_refused_with_a_reason():
    cart = Cart()
    assert cart.add("vip", 0) == "Quantity must be at least 1."
    assert cart.add("<script>", 1) == "That ticket does not exist."
    assert cart.set_quantity("vip", 2) == "That ticket is not in your cart."
    for i in range(MAX_LINES):
        assert cart.add(f"t{i}", 1) is None
    assert "at most" in cart.add("one-more", 1)


def test_tampered_cookies_are_cleaned():
    key = str(uuid.uuid4())
    cart = Cart.parse(f"ok:2,bad id:1,neg:-1,big:99,zero:0,:3|{key}")
    assert cart.items == {"ok": 2} and cart.key == key
    assert Cart.parse("garbage").items == {}
    assert Cart.parse("a:1|not-a-uuid").key != "not-a-uuid"


def test_renew_empties_and_draws_a_new_checkout_key():
    cart = Cart()
    cart.add("vip", 1)
    old = cart.key
    cart.renew()
    assert cart.items == {} and cart.key != old
