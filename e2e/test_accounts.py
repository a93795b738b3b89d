"""Accounts on the real stack: sign-up, the confirmation mail through Kafka, the email function, SMTP and
the mailbox, checkout refused until the address is confirmed, and a new password by mail."""
import time
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect
from test_browser import log_in
from test_cart_browser import add_to_cart, new_last_order

from e2e_helpers import (
    assert_refused_everywhere,
    bearer,
    eventually,
    link_in_mail,
    login,
    mails_to,
    new_buyer,
    new_ticket_type,
)

pytestmark = pytest.mark.stack
PASSWORD = "a long enough phrase"


def _token(link: str) -> str:
    return urlsplit(link).query.removeprefix("token=")


def _sign_up(api, name: str, password: str = PASSWORD):
    return api.post("/api/auth/register", json={"username": name, "email": f"{name}@festflow.test",
                                                "password": password})


def test_sign_up_then_checkout_waits_for_the_confirmed_address(api, profile, admin_token):
    ticket = new_ticket_type(api, admin_token, stock=5)
    name = f"new-{uuid.uuid4().hex[:8]}"
    created = _sign_up(api, name)
    assert created.status_code == 201, created.text
    assert created.json()["email_verified"] is False
    assert _sign_up(api, name).status_code == 409  # a taken username
    weak = _sign_up(api, f"{name}y", "short")
    assert weak.status_code == 422 and "at least 10 characters" in weak.json()["detail"]

    token = login(api, name, PASSWORD)
    assert api.get("/api/auth/me", headers=bearer(token)).json()["email_verified"] is False
    order = {"items": [{"ticket_id": ticket["id"], "quantity": 1}]}
    refused = api.post("/api/orders", json=order, headers={**bearer(token), "Idempotency-Key": "k1"})
    assert refused.status_code == 403 and "verify your email first" in refused.json()["detail"]

    link = link_in_mail(profile, f"{name}@festflow.test", "/account/verify-email")
    assert link.startswith(profile.url("gateway", "/account/verify-email?token="))
    assert api.post("/api/auth/verify-email", json={"token": _token(link)}).json() == {
        "username": name, "email_verified": True}
    again = api.post("/api/auth/verify-email", json={"token": _token(link)})
    assert again.status_code == 400 and "it was used" in again.json()["detail"]
    placed = api.post("/api/orders", json=order, headers={**bearer(token), "Idempotency-Key": "k1"})
    assert placed.status_code == 202, placed.text  # the token from before the confirmation: asked anew
    # a token says what was so when it was issued (the waiting room takes a confirmed one without asking)
    from jose import jwt
    assert jwt.get_unverified_claims(token)["email_verified"] is False
    assert jwt.get_unverified_claims(login(api, name, PASSWORD))["email_verified"] is True


def test_a_forgotten_password_is_replaced_through_the_mailed_link(api, profile):
    name = f"forgetful-{uuid.uuid4().hex[:6]}"
    assert _sign_up(api, name).status_code == 201
    unknown = api.post("/api/auth/password-reset", json={"email": "nobody@festflow.test"})
    asked = api.post("/api/auth/password-reset", json={"email": f"{name}@festflow.test"})
    assert unknown.status_code == asked.status_code == 202 and unknown.json() == asked.json()  # tells nothing
    link = link_in_mail(profile, f"{name}@festflow.test", "/account/reset-password")
    weak = api.post("/api/auth/password-reset/confirm", json={"token": _token(link), "password": "short"})
    assert weak.status_code == 422 and weak.json()["field"] == "password"
    done = api.post("/api/auth/password-reset/confirm", json={"token": _token(link), "password": "my new phrase!"})
    assert done.status_code == 200, done.text
    assert api.post("/api/auth/login", json={"username": name, "password": PASSWORD}).status_code == 401
    assert login(api, name, "my new phrase!")
    reused = api.post("/api/auth/password-reset/confirm", json={"token": _token(link), "password": "third phrase!"})
    assert reused.status_code == 400


def test_a_new_buyer_signs_up_confirms_from_the_mail_and_buys_in_the_browser(page: Page, profile, api,
                                                                           admin_token):
    ticket = new_ticket_type(api, admin_token, price="15.00", stock=10)
    name = f"web-{uuid.uuid4().hex[:8]}"
    page.goto("/login")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Username").fill(name)
    page.get_by_label("Email").fill(f"{name}@festflow.test")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#e-password")).to_contain_text("At least 10 characters")  # beside its field
    expect(page.get_by_label("Username")).to_have_value(name)  # nothing typed is lost
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    expect(page.locator(".shell_user")).to_contain_text(name)  # logged in at once

    page.goto("/")
    add_to_cart(page, ticket["id"], 2)
    page.get_by_role("button", name="CHECKOUT").click()
    expect(page.locator("#cart .cart_error")).to_contain_text("Confirm your email address first")
    expect(page.locator(f'#cart tr[data-ticket-id="{ticket["id"]}"]')).to_be_visible()  # the cart stays

    page.goto(link_in_mail(profile, f"{name}@festflow.test", "/account/verify-email"))
    expect(page.get_by_role("heading", name="Address confirmed")).to_be_visible()
    page.goto("/")
    page.get_by_role("button", name="CHECKOUT").click()
    order_id = new_last_order(page, set())
    expect(page.locator(f'.cart_last-order[data-order-id="{order_id}"]')).to_have_attribute("data-status",
                                                                                             "CONFIRMED")
    # the next person on this browser gets an empty cart, not this one
    page.get_by_role("button", name="Log out").click()
    log_in(page, *new_buyer(api, admin_token))
    expect(page.locator("#cart .cart_empty")).to_be_visible()
    expect(page.locator("#cart")).not_to_contain_text(ticket["name"])


def test_a_password_is_reset_from_the_pages(page: Page, profile, api):
    name = f"reset-{uuid.uuid4().hex[:6]}"
    assert _sign_up(api, name).status_code == 201
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(f"{name}@festflow.test")
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator(".shell_ok")).to_contain_text("If an account has this address")
    page.goto(link_in_mail(profile, f"{name}@festflow.test", "/account/reset-password"))
    page.get_by_label("New password").fill("my fresh phrase")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator(".shell_ok")).to_contain_text("Your new password is set")
    log_in(page, name, "my fresh phrase")
    expect(page.locator(".shell_user")).to_contain_text(name)


def _reset_link(api, profile, email: str, count: int) -> str:
    """The `count`-th reset link mailed to `email`, asked for now (the test stack allows one a second)."""
    time.sleep(1.1)
    assert api.post("/api/auth/password-reset", json={"email": email}).status_code == 202
    return _token(link_in_mail(profile, email, "/account/reset-password", count=count))


def _set_password(api, token: str, password: str):
    return api.post("/api/auth/password-reset/confirm", json={"token": token, "password": password})


def test_an_older_reset_link_is_refused_once_a_newer_one_was_sent_or_used(api, profile):
    name = f"twice-{uuid.uuid4().hex[:6]}"
    email = f"{name}@festflow.test"
    assert _sign_up(api, name).status_code == 201
    first = _reset_link(api, profile, email, 1)
    second = _reset_link(api, profile, email, 2)
    stale = _set_password(api, first, "the attacker's phrase")
    assert stale.status_code == 400 and "a newer one was sent" in stale.json()["detail"], stale.text
    assert _set_password(api, second, "the owner's phrase").status_code == 200
    third = _reset_link(api, profile, email, 3)
    fourth = _reset_link(api, profile, email, 4)
    assert _set_password(api, fourth, "the owner's next phrase").status_code == 200
    assert _set_password(api, third, "the attacker's phrase").status_code == 400  # using one voids every other
    assert api.post("/api/auth/login", json={"username": name, "password": "the attacker's phrase"}).status_code == 401
    assert login(api, name, "the owner's next phrase")


def test_a_password_reset_ends_every_session_and_a_new_login_works(api, profile, gateway):
    name = f"stolen-{uuid.uuid4().hex[:6]}"
    email = f"{name}@festflow.test"
    assert _sign_up(api, name).status_code == 201
    thief = login(api, name, PASSWORD)
    api.cookies.clear()
    assert api.get("/api/auth/me", headers=bearer(thief)).status_code == 200
    done = _set_password(api, _reset_link(api, profile, email, 1), "the owner's phrase")
    assert done.status_code == 200 and done.json()["sessions_ended"] is True
    assert "logged out" in done.json()["detail"]
    assert_refused_everywhere(api, gateway, thief, "session has ended")
    owner = login(api, name, "the owner's phrase")
    api.cookies.clear()
    assert api.get("/api/auth/me", headers=bearer(owner)).status_code == 200


def test_logging_out_everywhere_ends_every_session_of_the_account(api, gateway):
    name = f"everywhere-{uuid.uuid4().hex[:6]}"
    assert _sign_up(api, name).status_code == 201
    phone, laptop = login(api, name, PASSWORD), login(api, name, PASSWORD)
    api.cookies.clear()
    ended = api.post("/api/auth/logout-everywhere", headers=bearer(laptop))
    assert ended.status_code == 200 and ended.json()["sessions_ended"] is True
    assert_refused_everywhere(api, gateway, phone, "session has ended")
    assert api.get("/api/auth/me", headers=bearer(laptop)).status_code == 401


@pytest.mark.parametrize("written", ["(1){name}@festflow.test", "<{name}@festflow.test>",
                                     "Someone <{name}@festflow.test>", "<svg/onload=alert(1)>@festflow.test"])
def test_one_mailbox_cannot_be_signed_up_again_written_another_way(api, written):
    name = f"box-{uuid.uuid4().hex[:6]}"
    assert _sign_up(api, name).status_code == 201
    again = api.post("/api/auth/register", json={"username": f"{name}b", "email": written.format(name=name),
                                                 "password": PASSWORD})
    assert again.status_code == 422 and "email" in again.text, again.text


def test_sign_up_answers_alike_for_a_taken_and_a_free_address_and_tells_the_owner(api, profile):
    owner = f"owner-{uuid.uuid4().hex[:6]}"
    assert _sign_up(api, owner).status_code == 201
    free_name, taken_name = f"free-{uuid.uuid4().hex[:6]}", f"again-{uuid.uuid4().hex[:6]}"
    free = api.post("/api/auth/register", json={"username": free_name, "email": f"{free_name}@festflow.test",
                                                "password": PASSWORD})
    taken = api.post("/api/auth/register", json={"username": taken_name, "email": f"{owner}@FESTFLOW.test",
                                                 "password": PASSWORD})
    assert free.status_code == taken.status_code == 201
    assert free.json().keys() == taken.json().keys()
    assert free.json()["detail"].replace(f"{free_name}@festflow.test", "X") == \
        taken.json()["detail"].replace(f"{owner}@festflow.test", "X")
    assert api.post("/api/auth/login", json={"username": taken_name, "password": PASSWORD}).status_code == 401
    notice = eventually(lambda: next((m for m in mails_to(profile, f"{owner}@festflow.test")
                                      if "already have" in m["subject"]), None), timeout=30,
                        what="the owner's 'you already have an account' mail")
    assert f"its username is {owner}" in notice["body"]


def test_a_reset_takes_as_long_for_a_known_as_for_an_unknown_address(gateway):
    """Median of 50 each, alternated, from an address of its own, paced under the gateway's login limit."""
    import statistics
    known_email = "guest@festflow.local"
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    with _from(gateway, "127.0.0.93") as client:
        for n in range(100):
            kind = "known" if n % 2 == 0 else "unknown"
            email = known_email if kind == "known" else f"nobody-{uuid.uuid4().hex[:6]}@festflow.test"
            started = time.perf_counter()
            answer = client.post("/api/auth/password-reset", json={"email": email})
            times[kind].append(time.perf_counter() - started)
            assert answer.status_code == 202, answer.text
            time.sleep(max(0.0, 0.125 - (time.perf_counter() - started)))
    known, unknown = statistics.median(times["known"]), statistics.median(times["unknown"])
    assert 0.8 < known / unknown < 1.25, (known, unknown)


def _from(gateway: str, address: str) -> httpx.Client:
    """A client that reaches the gateway from a loopback address of its own, as from another network."""
    return httpx.Client(base_url=gateway, timeout=20, transport=httpx.HTTPTransport(local_address=address))


def test_failed_logins_from_one_address_do_not_lock_the_owner_out_from_another(api, gateway, admin_token):
    name = f"target-{uuid.uuid4().hex[:6]}"
    assert _sign_up(api, name).status_code == 201
    with _from(gateway, "127.0.0.91") as attacker, _from(gateway, "127.0.0.92") as owner:
        codes = [attacker.post("/api/auth/login", json={"username": name, "password": "a wrong guess"}).status_code
                 for _ in range(10)]
        assert codes[:9] == [401] * 9 and codes[9] == 429
        locked = attacker.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        assert locked.status_code == 429 and "from your address" in locked.json()["detail"]
        assert owner.post("/api/auth/login", json={"username": name, "password": PASSWORD}).status_code == 200
        # through the shell's form too: the shell passes the visitor's address on
        form = owner.post("/shell/login", data={"username": name, "password": PASSWORD, "next": "/"})
        assert form.status_code == 303 and form.headers["location"] == "/"
        locks = api.get("/api/admin/login-locks", headers=bearer(admin_token)).json()
        assert {"username": name, "address": "127.0.0.91"} in [
            {k: lock[k] for k in ("username", "address")} for lock in locks]
        page = api.get("/admin/security", headers={"Cookie": f"festflow_token={admin_token}"}).text
        assert f'data-username="{name}" data-address="127.0.0.91"' in page  # the organiser's dashboard shows it
        lifted = api.delete("/api/admin/login-locks", headers=bearer(admin_token),
                            params={"username": name, "address": "127.0.0.91"})
        assert lifted.json() == {"lifted": 1}
        assert attacker.post("/api/auth/login", json={"username": name, "password": PASSWORD}).status_code == 200


def test_a_buyer_logs_out_everywhere_from_the_account_page(page: Page, api, gateway):
    name = f"devices-{uuid.uuid4().hex[:6]}"
    assert _sign_up(api, name).status_code == 201
    other_device = login(api, name, PASSWORD)
    api.cookies.clear()
    log_in(page, name, PASSWORD)
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.locator(".account_facts")).to_contain_text(f"{name}@festflow.test")
    page.get_by_role("button", name="Log out everywhere").click()
    expect(page.locator(".shell_ok")).to_contain_text("Every device that was logged in to your account is logged out")
    expect(page.locator(".shell_user")).to_have_count(0)
    assert_refused_everywhere(api, gateway, other_device, "session has ended")


def test_guessing_from_many_addresses_makes_the_owner_log_in_by_a_mailed_link_the_attacker_cannot_use(
        api, gateway, profile, page: Page):
    name = f"besieged-{uuid.uuid4().hex[:6]}"
    email = f"{name}@festflow.test"
    assert _sign_up(api, name).status_code == 201
    for n in range(30):  # five guesses from each of six addresses: no address is ever locked
        with _from(gateway, f"127.0.1.{n % 6 + 1}") as attacker:
            guess = attacker.post("/api/auth/login", json={"username": name, "password": f"guess {n}"})
            assert guess.status_code == 401, guess.text
    with _from(gateway, "127.0.1.77") as owner:
        proof = owner.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert proof.status_code == 403 and proof.json()["proof"] == "mailed_login_link"
    assert "access_token" not in proof.text and "set-cookie" not in proof.headers
    link = link_in_mail(profile, email, "/account/login-link")
    page.goto(link)  # the owner opens the mail's link in the browser
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".shell_user")).to_contain_text(name)
    again = api.post("/api/auth/login-link", json={"token": _token(link)})
    assert again.status_code == 400  # used once: nobody can use it again
    assert login(api, name, PASSWORD)  # the count started again: the password works as before
