"""Sign-up, confirming the address and a new password (service layer, real SQLite/PostgreSQL): the rules,
the one-time links, checkout refused until confirmed, and each mail's event in the outbox."""
import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from festflow_contracts import events, fixtures
from festflow_contracts.channels import ACCOUNT_EVENTS_TOPIC, AUTH_EVENTS_TOPIC
from festflow_contracts.tokens import Identity
from festflow_runtime.outbox import OutboxRelay
from order_service import db, registration
from order_service.login import authenticate
from order_service.ordering import BuyerNotVerified, OrderLine, VerifiedBuyers
from order_service.registration import AccountError, AccountTaken, LinkInvalid, SignUp

from .conftest import checkout_of

ANNA = SignUp(username="anna", email="anna@example.org", password="correct horse battery")


async def fake_hash(password: str) -> str:
    return f"hashed:{password}"


async def plain_check(password: str, password_hash: str) -> bool:
    return password_hash == f"hashed:{password}"


async def outbox(engine) -> list[dict]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(db.event_outbox).order_by(db.event_outbox.c.seq))).mappings().all()
    return [dict(row) for row in rows]


async def secret_of_last_mail(engine) -> str:
    data = events.decode((await outbox(engine))[-1]["payload"])["data"]
    return data.get("verify_token") or data["reset_token"]


async def test_sign_up_makes_an_unverified_account_and_queues_its_mail(engine):
    account = await registration.register(engine, ANNA, fake_hash)
    assert account == {"username": "anna", "email": "anna@example.org"}
    [row] = await outbox(engine)
    event = events.decode(row["payload"])
    assert row["topic"] == ACCOUNT_EVENTS_TOPIC and row["key"] == "anna" and row["sent_at"] is None
    assert event["type"] == events.ACCOUNT_REGISTERED
    assert event["data"]["email"] == "anna@example.org" and len(event["data"]["verify_token"]) >= 40
    fixtures.record(event)  # the sample the email function's tests mail
    async with engine.connect() as conn:
        assert not await registration.is_verified(conn, "anna")
        stored = (await conn.execute(sa.select(db.account_tokens))).mappings().one()
    assert event["data"]["verify_token"] not in stored["token_hash"]  # only a hash of the secret is kept


async def test_a_taken_username_is_409_and_weak_passwords_say_the_rule(engine):
    await registration.register(engine, ANNA, fake_hash)
    with pytest.raises(AccountTaken, match="username") as taken:
        await registration.register(engine, SignUp(username="anna", email="other@example.org",
                                                   password="another good phrase"), fake_hash)
    assert taken.value.status == 409 and taken.value.field == "username"
    for weak in ("short", "12345678901", "password123", "xx-bob-is-great"):
        with pytest.raises(AccountError, match="at least 10 characters") as refused:
            await registration.register(engine, SignUp(username="bob", email="bob@example.org", password=weak),
                                        fake_hash)
        assert refused.value.status == 422 and refused.value.field == "password"
    assert len(await outbox(engine)) == 1  # nothing was written for the refused ones


async def account_names(engine) -> list[str]:
    async with engine.connect() as conn:
        return sorted((await conn.scalars(sa.select(db.users.c.username))).all())


async def test_a_taken_address_gets_the_same_answer_and_its_owner_a_mail_saying_so(engine):
    hashed = []

    async def counting_hash(password):
        hashed.append(password)
        return await fake_hash(password)

    free = await registration.register(engine, ANNA, counting_hash)
    taken = await registration.register(engine, SignUp(username="mallory", email="ANNA@example.org",
                                                       password="another good phrase"), counting_hash)
    assert free.keys() == taken.keys() and taken == {"username": "mallory", "email": "ANNA@example.org"}
    assert len(hashed) == 2  # the same work either way
    assert await account_names(engine) == ["anna"]  # no second account for one mailbox
    event = events.decode((await outbox(engine))[-1]["payload"])
    assert event["type"] == events.SIGN_UP_FOR_EXISTING_ACCOUNT
    assert event["data"] == {"username": "anna", "email": "anna@example.org"}  # to the owner's own address
    fixtures.record(event)  # the sample the email function mails
    again = SignUp(username="mallory2", email="anna@example.org", password="another good phrase")
    assert await registration.register(engine, again, fake_hash) == {"username": "mallory2",
                                                                      "email": "anna@example.org"}
    assert len(await outbox(engine)) == 2  # one notice a minute, however often it is tried


async def test_at_most_five_account_mails_an_hour_whatever_asks_for_them(engine):
    await registration.register(engine, ANNA, fake_hash)  # mail 1
    start = datetime.now(UTC)
    sent = [await registration.request_password_reset(engine, "anna@example.org",
                                                      clock=lambda n=n: start + timedelta(minutes=2 * n + 1))
            for n in range(6)]
    assert sent == [True, True, True, True, False, False]  # mails 2-5, then none within the hour
    assert await registration.request_password_reset(engine, "anna@example.org",
                                                     clock=lambda: start + timedelta(minutes=75))


@pytest.mark.parametrize("field,value", [("username", "A"), ("username", "has space"), ("email", "no-at-sign"),
                                         ("email", "a@nodot")])
def test_malformed_fields_are_refused_with_the_field_named(field, value):
    with pytest.raises(ValidationError, match=field):
        SignUp(**{"username": "carl", "email": "carl@example.org", "password": "long enough phrase",
                  field: value})


async def test_checkout_is_refused_until_the_address_is_confirmed(engine, catalog):
    verified = VerifiedBuyers()
    await registration.register(engine, ANNA, fake_hash)
    anna = Identity("anna", "client", "anna@example.org")
    for _ in range(2):  # an unconfirmed buyer is never taken for a confirmed one
        with pytest.raises(BuyerNotVerified, match="verify your email first") as refused:
            await checkout_of(engine, catalog, verified=verified).place(anna, "k1", [OrderLine("vip", 1)])
        assert refused.value.status == 403 and "anna" not in verified
    assert await registration.verify_email(engine, await secret_of_last_mail(engine)) == "anna"
    placed = await checkout_of(engine, catalog, verified=verified).place(anna, "k1", [OrderLine("vip", 1)])
    assert placed.created and "anna" in verified  # her next checkouts skip the question


async def test_a_link_works_once_and_not_after_it_expires(engine):
    await registration.register(engine, ANNA, fake_hash)
    secret = await secret_of_last_mail(engine)
    with pytest.raises(LinkInvalid, match="not valid"):
        await registration.verify_email(engine, secret + "x")
    late = lambda: datetime.now(UTC) + timedelta(days=2)  # noqa: E731
    with pytest.raises(LinkInvalid, match="expired"):
        await registration.verify_email(engine, secret, clock=late)
    await registration.verify_email(engine, secret)
    with pytest.raises(LinkInvalid, match="it was used"):
        await registration.verify_email(engine, secret)


async def test_a_new_confirmation_mail_at_most_once_a_minute_and_none_once_confirmed(engine):
    await registration.register(engine, ANNA, fake_hash)
    assert not await registration.resend_verification(engine, "anna")  # the first went out just now
    later = lambda: datetime.now(UTC) + timedelta(minutes=2)  # noqa: E731
    assert await registration.resend_verification(engine, "anna", clock=later)
    await registration.verify_email(engine, await secret_of_last_mail(engine))
    much_later = lambda: datetime.now(UTC) + timedelta(minutes=5)  # noqa: E731
    assert not await registration.resend_verification(engine, "anna", clock=much_later)
    assert len(await outbox(engine)) == 2


async def test_a_password_reset_mails_a_link_that_sets_the_password_once(engine):
    await registration.register(engine, ANNA, fake_hash)
    assert not await registration.request_password_reset(engine, "nobody@example.org")  # same answer outside
    assert await registration.request_password_reset(engine, " Anna@Example.org ")
    assert not await registration.request_password_reset(engine, "anna@example.org")  # once a minute
    event = events.decode((await outbox(engine))[-1]["payload"])
    assert event["type"] == events.PASSWORD_RESET_REQUESTED and event["data"]["username"] == "anna"
    fixtures.record(event)
    secret = event["data"]["reset_token"]
    with pytest.raises(AccountError, match="at least 10"):
        await registration.reset_password(engine, secret, "weak", fake_hash)
    assert (await registration.reset_password(engine, secret, "a brand new phrase", fake_hash)).username == "anna"
    user = await authenticate(engine, "anna", "a brand new phrase", check=plain_check)
    assert user["username"] == "anna"
    async with engine.connect() as conn:
        assert await registration.is_verified(conn, "anna")  # the mail reached the address: it is confirmed
    with pytest.raises(LinkInvalid, match="it was used"):
        await registration.reset_password(engine, secret, "yet another phrase", fake_hash)


async def reset_link(engine, email: str, at: datetime) -> str:
    assert await registration.request_password_reset(engine, email, clock=lambda: at)
    return await secret_of_last_mail(engine)


async def test_only_the_newest_reset_link_works_and_using_it_voids_every_other(engine):
    await registration.register(engine, ANNA, fake_hash)
    start = datetime.now(UTC)
    older = await reset_link(engine, "anna@example.org", start)
    newer = await reset_link(engine, "anna@example.org", start + timedelta(minutes=2))
    with pytest.raises(LinkInvalid, match="a newer one was sent"):
        await registration.reset_password(engine, older, "an attacker's phrase", fake_hash)
    await registration.reset_password(engine, newer, "a brand new phrase", fake_hash)
    with pytest.raises(LinkInvalid, match="it was used"):
        await registration.reset_password(engine, newer, "an attacker's phrase", fake_hash)
    assert (await authenticate(engine, "anna", "a brand new phrase", check=plain_check))["username"] == "anna"


async def test_using_a_confirmation_link_voids_the_other_confirmation_links(engine):
    await registration.register(engine, ANNA, fake_hash)
    first = await secret_of_last_mail(engine)
    later = lambda: datetime.now(UTC) + timedelta(minutes=2)  # noqa: E731
    assert await registration.resend_verification(engine, "anna", clock=later)
    second = await secret_of_last_mail(engine)
    with pytest.raises(LinkInvalid, match="a newer one was sent"):
        await registration.verify_email(engine, first)
    assert await registration.verify_email(engine, second) == "anna"


async def test_a_password_reset_ends_every_session_of_the_account_through_the_outbox(engine):
    await registration.register(engine, ANNA, fake_hash)
    at = datetime.now(UTC) + timedelta(minutes=2)
    secret = await reset_link(engine, "anna@example.org", at - timedelta(minutes=1))
    ended = await registration.reset_password(engine, secret, "a brand new phrase", fake_hash, clock=lambda: at)
    assert ended == registration.EndedSessions("anna", at.timestamp())
    row = (await outbox(engine))[-1]
    event = events.decode(row["payload"])
    assert (row["topic"], row["key"], event["type"]) == (AUTH_EVENTS_TOPIC, "anna", events.SESSIONS_ENDED)
    assert event["data"] == {"username": "anna", "before": at.timestamp(), "reason": "password reset"}
    fixtures.record(event)  # the sample every app's revocation handler reads


async def test_logging_out_everywhere_ends_every_session_of_the_account(engine):
    await registration.register(engine, ANNA, fake_hash)
    ended = await registration.end_sessions(engine, "anna", "logged out everywhere")
    event = events.decode((await outbox(engine))[-1]["payload"])
    assert event["type"] == events.SESSIONS_ENDED
    assert (event["data"]["username"], event["data"]["before"]) == ("anna", ended.before)


async def test_a_verify_link_does_not_reset_a_password(engine):
    await registration.register(engine, ANNA, fake_hash)
    with pytest.raises(LinkInvalid):
        await registration.reset_password(engine, await secret_of_last_mail(engine), "a brand new phrase",
                                          fake_hash)


class RecordingSender:
    def __init__(self, fail_after: int | None = None):
        self.sent: list[tuple[str, str, bytes]] = []
        self.fail_after = fail_after

    async def send_many(self, records) -> tuple[int, Exception | None]:
        for n, record in enumerate(records):
            if self.fail_after is not None and len(self.sent) >= self.fail_after:
                return n, ConnectionError("kafka is away")
            self.sent.append(record)
        return len(records), None


async def test_the_event_relay_sends_in_order_marks_what_was_sent_and_keeps_the_rest(engine):
    for n in range(3):
        await registration.register(engine, SignUp(username=f"user{n}", email=f"u{n}@example.org",
                                                   password="correct horse battery"), fake_hash)
    sender = RecordingSender(fail_after=2)
    with pytest.raises(ConnectionError):
        await OutboxRelay(engine, db.event_outbox, sender, logging.getLogger("t")).relay_pending()
    assert [key for _, key, _ in sender.sent] == ["user0", "user1"]
    assert [row["sent_at"] is not None for row in await outbox(engine)] == [True, True, False]
    sender.fail_after = None
    assert await OutboxRelay(engine, db.event_outbox, sender, logging.getLogger("t")).relay_pending() == 1
    assert [key for _, key, _ in sender.sent] == ["user0", "user1", "user2"]


@pytest.mark.parametrize("address", ["(1)anna@example.org", "anna(2)@example.org", "<anna@example.org>",
                                     "Anna <anna@example.org>", "<svg/onload=alert(1)>@x.test", "anna@example",
                                     '"anna"@example.org', "anna@example.org\nBcc: eve@example.org"])
def test_an_address_is_one_bare_mailbox_or_refused_with_the_reason(address):
    with pytest.raises(ValidationError, match="email: .*name@example.org|plain text"):
        SignUp(username="anna", email=address, password="correct horse battery")


async def test_one_mailbox_makes_one_account_however_it_is_written(engine):
    await registration.register(engine, ANNA, fake_hash)
    same = SignUp(username="anna2", email=" anna@EXAMPLE.org ", password="correct horse battery")
    assert same.email == "anna@example.org"
    await registration.register(engine, same, fake_hash)
    await registration.register(engine, SignUp(username="anna3", email="ANNA@example.org",
                                               password="correct horse battery"), fake_hash)
    assert await account_names(engine) == ["anna"]


async def test_a_mailed_login_link_logs_in_once_and_starts_the_guessing_count_again(engine):
    from order_service import login
    await registration.register(engine, ANNA, fake_hash)
    async with engine.begin() as conn:
        await conn.execute(db.login_failures.insert().values(username="anna", address=login.ANY_ADDRESS,
                                                             failures=40, updated_at=datetime.now(UTC).isoformat()))
    assert await registration.request_login_link(engine, "anna")
    assert not await registration.request_login_link(engine, "anna")  # one a minute
    assert not await registration.request_login_link(engine, "nobody")
    event = events.decode((await outbox(engine))[-1]["payload"])
    assert event["type"] == events.LOGIN_LINK_REQUESTED and event["data"]["email"] == "anna@example.org"
    fixtures.record(event)  # the sample the email function mails
    user = await registration.log_in_by_link(engine, event["data"]["login_token"])
    assert user["username"] == "anna"
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(db.login_failures))).first() is None
    with pytest.raises(LinkInvalid, match="it was used"):
        await registration.log_in_by_link(engine, event["data"]["login_token"])
    with pytest.raises(LinkInvalid, match="not valid"):  # a reset link is no login link
        await registration.request_password_reset(engine, "anna@example.org",
                                                  clock=lambda: datetime.now(UTC) + timedelta(minutes=2))
        await registration.log_in_by_link(engine, await secret_of_last_mail(engine))
