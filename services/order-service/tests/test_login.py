"""Logging in (service layer): slow-down then lockout per username, the same work for unknown users."""
from datetime import UTC, datetime, timedelta

import bcrypt
import pytest

from order_service import db, login
from order_service.login import AccountLocked, LoginPolicy, LoginRefused, authenticate

POLICY = LoginPolicy(slow_after=2, lock_after=4, lock_seconds=60, slow_seconds=0)


class Clock:
    def __init__(self):
        self.now = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


class Checks:
    """Real bcrypt at its lowest cost, counting which hashes were checked."""

    def __init__(self):
        self.hashes: list[str] = []

    async def __call__(self, password, password_hash):
        self.hashes.append(password_hash)
        return bcrypt.checkpw(password.encode(), password_hash.encode())


@pytest.fixture
async def users(engine):
    async with engine.begin() as conn:
        await conn.execute(db.users.insert().values(
            username="guest", role="client", email="g@x",
            password_hash=bcrypt.hashpw(b"festflow", bcrypt.gensalt(rounds=4)).decode()))
    return engine


async def test_the_right_password_logs_in_and_clears_failures(users):
    checks, clock = Checks(), Clock()
    with pytest.raises(LoginRefused, match="wrong username or password"):
        await authenticate(users, "guest", "nope", POLICY, checks, clock)
    assert (await authenticate(users, "guest", "festflow", POLICY, checks, clock))["username"] == "guest"
    for _ in range(POLICY.lock_after - 1):  # the count started again from zero
        with pytest.raises(LoginRefused) as refused:
            await authenticate(users, "guest", "nope", POLICY, checks, clock)
        assert not isinstance(refused.value, AccountLocked)


async def test_repeated_failures_lock_the_account_even_for_the_right_password_until_it_opens(users):
    checks, clock = Checks(), Clock()
    for _ in range(POLICY.lock_after - 1):
        with pytest.raises(LoginRefused):
            await authenticate(users, "guest", "nope", POLICY, checks, clock)
    with pytest.raises(AccountLocked) as locked:
        await authenticate(users, "guest", "nope", POLICY, checks, clock)
    assert locked.value.status == 429 and "locked until 20:01:00 UTC" in str(locked.value)
    checked = len(checks.hashes)
    with pytest.raises(AccountLocked):
        await authenticate(users, "guest", "festflow", POLICY, checks, clock)
    assert len(checks.hashes) == checked  # a locked account costs no bcrypt at all
    clock.now += timedelta(seconds=61)
    assert (await authenticate(users, "guest", "festflow", POLICY, checks, clock))["username"] == "guest"


async def test_an_unknown_username_costs_a_bcrypt_check_and_answers_the_same(users):
    checks, clock = Checks(), Clock()
    with pytest.raises(LoginRefused) as unknown:
        await authenticate(users, "nobody", "festflow", POLICY, checks, clock)
    with pytest.raises(LoginRefused) as wrong:
        await authenticate(users, "guest", "wrong", POLICY, checks, clock)
    assert str(unknown.value) == str(wrong.value) and len(checks.hashes) == 2
    for _ in range(POLICY.lock_after - 1):
        with pytest.raises(LoginRefused):
            await authenticate(users, "nobody", "x", POLICY, checks, clock)
    with pytest.raises(AccountLocked):  # unknown names lock like known ones: nothing to tell them apart
        await authenticate(users, "nobody", "x", POLICY, checks, clock)


async def test_slow_down_after_a_few_failures(users, monkeypatch):
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    monkeypatch.setattr("order_service.login.asyncio.sleep", sleep)
    policy = LoginPolicy(slow_after=2, lock_after=10, lock_seconds=60, slow_seconds=1.0)
    for _ in range(4):
        with pytest.raises(LoginRefused):
            await authenticate(users, "guest", "nope", policy, Checks(), Clock())
    assert slept == [1.0, 1.0]  # the 3rd and 4th failures wait


async def test_bulk_accounts_log_in_and_taken_names_are_skipped(users):
    from order_service.accounts import NewAccount, create_accounts
    result = await create_accounts(users, [
        NewAccount(username="buyer-1", email="b1@x.test", password="secret-one"),
        NewAccount(username="guest", email="g@x.test", password="not-this-one"),
        NewAccount(username="buyer-1", email="again@x.test", password="secret-two")])
    assert result == {"created": ["buyer-1"], "existing": ["guest", "buyer-1"]}
    assert (await authenticate(users, "buyer-1", "secret-one", POLICY, Checks(), Clock()))["email"] == "b1@x.test"
    assert (await authenticate(users, "guest", "festflow", POLICY, Checks(), Clock()))["username"] == "guest"


async def test_imported_accounts_log_in_with_the_password_behind_their_hash(users):
    import bcrypt
    from pydantic import ValidationError

    from order_service.accounts import NewAccount, create_accounts
    imported = bcrypt.hashpw(b"imported-secret", bcrypt.gensalt(rounds=4)).decode()
    result = await create_accounts(users, [NewAccount(username="imported", email="i@x.test", password_hash=imported)])
    assert result == {"created": ["imported"], "existing": []}
    assert (await authenticate(users, "imported", "imported-secret", POLICY, Checks(), Clock()))["email"] == "i@x.test"
    with pytest.raises(LoginRefused):
        await authenticate(users, "imported", "wrong-secret", POLICY, Checks(), Clock())
    for bad in ({"password": "secret-one", "password_hash": imported}, {},
                {"password_hash": "$2b$10$short"}, {"password_hash": "md5:0123456789abcdef"}):
        with pytest.raises(ValidationError):
            NewAccount(username="bad-one", email="b@x.test", **bad)


async def test_a_logout_sends_a_revocation_every_verifier_understands():
    from festflow_contracts import fixtures
    from festflow_contracts.tokens import TokenVerifier, generate_keypair
    from festflow_runtime.revocations import revocation_handler
    from order_service.revocation_publisher import RevocationPublisher
    from order_service.security import TokenIssuer
    private, public = generate_keypair()
    token = TokenIssuer(private, 60).issue("guest", "client", "g@x")
    verifier = TokenVerifier(public)
    identity = verifier.verify(token)
    publisher = RevocationPublisher("unused:9092")
    publisher.revoke(identity.token_id, identity.expires)
    event = publisher.queue.get_nowait()
    fixtures.record(event)
    await revocation_handler(verifier)(event)
    with pytest.raises(Exception, match="revoked"):
        verifier.verify(token)


async def test_a_reset_ends_sessions_in_every_verifier_that_reads_the_event():
    from festflow_contracts import events, fixtures
    from festflow_contracts.tokens import InvalidToken, TokenVerifier, generate_keypair
    from festflow_runtime.revocations import revocation_handler
    from order_service.security import TokenIssuer
    private, public = generate_keypair()
    token = TokenIssuer(private, 60).issue("guest", "client", "g@x")
    verifier = TokenVerifier(public)
    assert verifier.verify(token).username == "guest"
    import time
    await revocation_handler(verifier)(fixtures.sample(events.SESSIONS_ENDED, username="guest", before=time.time()))
    with pytest.raises(InvalidToken, match="session has ended"):
        verifier.verify(token)
    assert verifier.verify(TokenIssuer(private, 60).issue("guest", "client", "g@x")).username == "guest"


async def test_failures_from_one_address_lock_that_address_out_of_the_account_and_no_other(users):
    checks, clock = Checks(), Clock()
    for _ in range(POLICY.lock_after - 1):
        with pytest.raises(LoginRefused):
            await authenticate(users, "guest", "nope", POLICY, checks, clock, address="203.0.113.7")
    with pytest.raises(AccountLocked, match="for this account from your address"):
        await authenticate(users, "guest", "nope", POLICY, checks, clock, address="203.0.113.7")
    with pytest.raises(AccountLocked):  # the attacker's address: refused even with the right password
        await authenticate(users, "guest", "festflow", POLICY, checks, clock, address="203.0.113.7")
    owner = await authenticate(users, "guest", "festflow", POLICY, checks, clock, address="198.51.100.1")
    assert owner["username"] == "guest"  # the organiser at the gate, on another network, gets in
    [lock] = await login.locks(users, clock)
    assert (lock["username"], lock["address"]) == ("guest", "203.0.113.7")
    async with users.begin() as conn:
        assert await login.lift_locks(conn, "guest", "203.0.113.7") == 1
    assert await login.locks(users, clock) == []
    assert (await authenticate(users, "guest", "festflow", POLICY, checks, clock, address="203.0.113.7"))


async def test_guessing_across_many_accounts_from_one_address_locks_the_address_for_all(users):
    policy = LoginPolicy(slow_after=100, lock_after=100, lock_seconds=60, slow_seconds=0, address_lock_after=5)
    checks, clock = Checks(), Clock()
    for n in range(4):
        with pytest.raises(LoginRefused) as refused:
            await authenticate(users, f"name{n}", "guess", policy, checks, clock, address="203.0.113.9")
        assert not isinstance(refused.value, AccountLocked)
    with pytest.raises(AccountLocked, match="failed logins from your address"):
        await authenticate(users, "name4", "guess", policy, checks, clock, address="203.0.113.9")
    with pytest.raises(AccountLocked, match="from your address"):
        await authenticate(users, "guest", "festflow", policy, checks, clock, address="203.0.113.9")
    assert (await authenticate(users, "guest", "festflow", policy, checks, clock, address="198.51.100.1"))
    clock.now += timedelta(seconds=61)
    assert (await authenticate(users, "guest", "festflow", policy, checks, clock, address="203.0.113.9"))


async def test_guessing_one_account_from_many_addresses_makes_even_the_right_password_need_a_mailed_link(users):
    from order_service.login import ProofNeeded
    policy = LoginPolicy(slow_after=100, lock_after=100, lock_seconds=60, slow_seconds=0, proof_after=6)
    checks, clock = Checks(), Clock()
    assert (await authenticate(users, "guest", "festflow", policy, checks, clock, address="198.51.100.1"))
    for n in range(6):  # three guesses each from two addresses: no address is locked
        with pytest.raises(LoginRefused) as refused:
            await authenticate(users, "guest", f"guess {n}", policy, checks, clock, address=f"203.0.113.{n % 2}")
        assert not isinstance(refused.value, (AccountLocked, ProofNeeded))
    with pytest.raises(ProofNeeded) as proof:  # the owner, with the right password, from anywhere
        await authenticate(users, "guest", "festflow", policy, checks, clock, address="198.51.100.1")
    assert proof.value.status == 403 and proof.value.user["username"] == "guest"
    with pytest.raises(LoginRefused) as wrong:  # a wrong password is still just wrong
        await authenticate(users, "guest", "another guess", policy, checks, clock, address="198.51.100.1")
    assert not isinstance(wrong.value, ProofNeeded)
    async with users.begin() as conn:  # what a login by the mailed link does
        await login.lift_locks(conn, "guest", login.ANY_ADDRESS)
    assert (await authenticate(users, "guest", "festflow", policy, checks, clock, address="198.51.100.1"))


async def test_the_account_wide_count_starts_again_after_an_hour_without_a_failure(users):
    from order_service.login import ProofNeeded
    policy = LoginPolicy(slow_after=100, lock_after=100, lock_seconds=60, slow_seconds=0, proof_after=3)
    checks, clock = Checks(), Clock()
    for n in range(3):
        with pytest.raises(LoginRefused):
            await authenticate(users, "guest", "guess", policy, checks, clock, address=f"203.0.113.{n}")
    with pytest.raises(ProofNeeded):
        await authenticate(users, "guest", "festflow", policy, checks, clock, address="198.51.100.1")
    clock.now += timedelta(seconds=policy.proof_window_seconds + 1)
    assert (await authenticate(users, "guest", "festflow", policy, checks, clock, address="198.51.100.1"))
