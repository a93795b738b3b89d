import time

import pytest
from jose import jwt

from festflow_contracts.tokens import AUDIENCE, ISSUER, InvalidToken, TokenVerifier, bearer_token


def _token(private, **overrides):
    now = int(time.time())
    claims = {"sub": "guest", "role": "client", "email": "g@x", "iss": ISSUER, "aud": AUDIENCE,
              "iat": now, "exp": now + 60}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, private, algorithm="RS256")


def test_valid_token_gives_identity(keypair):
    private, public = keypair
    identity = TokenVerifier(public).verify(_token(private))
    assert (identity.username, identity.role, identity.is_admin) == ("guest", "client", False)
    assert identity.email_verified is False  # not said: not known to be verified


def test_a_token_says_whether_the_address_was_confirmed_when_it_was_issued(keypair):
    private, public = keypair
    verifier = TokenVerifier(public)
    assert verifier.verify(_token(private, email_verified=True)).email_verified is True
    assert verifier.verify(_token(private, email_verified=False)).email_verified is False
    assert verifier.verify(_token(private, email_verified="yes")).email_verified is False  # only a JSON true


@pytest.mark.parametrize("overrides", [
    {"exp": int(time.time()) - 10},   # expired
    {"exp": None},                    # no expiry
    {"aud": "someone-else"},
    {"iss": "someone-else"},
    {"role": "superuser"},
])
def test_bad_claims_are_refused(keypair, overrides):
    private, public = keypair
    with pytest.raises(InvalidToken):
        TokenVerifier(public).verify(_token(private, **overrides))


def test_token_signed_by_another_key_is_refused(keypair, other_keypair):
    with pytest.raises(InvalidToken):
        TokenVerifier(keypair[1]).verify(_token(other_keypair[0]))


def test_hs256_token_made_with_the_public_key_is_refused(keypair):
    # algorithm confusion: an attacker signs with HMAC using the (public) verification key
    _, public = keypair
    forged = jwt.encode({"sub": "x", "role": "admin", "iss": ISSUER, "aud": AUDIENCE,
                         "exp": int(time.time()) + 60}, "secret", algorithm="HS256")
    with pytest.raises(InvalidToken):
        TokenVerifier(public).verify(forged)


def test_identify_is_none_for_anonymous(keypair):
    verifier = TokenVerifier(keypair[1])
    assert verifier.identify(None) is None
    assert verifier.identify("garbage") is None


@pytest.mark.parametrize("header,expected", [
    ("Bearer abc", "abc"), ("bearer abc", "abc"), ("Basic abc", None), ("Bearer ", None), (None, None),
])
def test_bearer_token(header, expected):
    assert bearer_token(header) == expected


def test_a_remembered_token_is_still_refused_once_revoked_or_expired_and_a_changed_one_is_checked(keypair):
    private, public = keypair
    verifier = TokenVerifier(public)
    exp = int(time.time()) + 1
    token = _token(private, jti="t1", exp=exp)
    assert verifier.verify(token).username == "guest"
    assert verifier.verify(token).token_id == "t1"  # remembered: no second signature check
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidToken):
        verifier.verify(forged)
    other = _token(private, jti="t2")
    verifier.verify(other)
    verifier.revoke("t2", int(time.time()) + 60)
    with pytest.raises(InvalidToken, match="revoked"):
        verifier.verify(other)
    time.sleep(max(0.0, exp + 1.05 - time.time()))
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token)


def test_a_token_remembered_by_its_issuer_is_taken_without_a_signature_check_but_still_expires_and_revokes(keypair):
    from festflow_contracts.tokens import Identity

    _, public = keypair
    verifier = TokenVerifier(public)
    signed_here = "not.checked.again"  # what the issuing app hands in is taken as it is
    verifier.remember(signed_here, Identity("guest", "client", "g@x", "j1", int(time.time()) + 60))
    assert verifier.verify(signed_here).username == "guest"
    with pytest.raises(InvalidToken):
        verifier.verify("not.checked.again2")  # anything else is checked, and this is no token
    verifier.revoke("j1", int(time.time()) + 60)
    with pytest.raises(InvalidToken, match="revoked"):
        verifier.verify(signed_here)
    verifier.remember("gone.by.now", Identity("guest", "client", "g@x", "j2", int(time.time()) - 1))
    with pytest.raises(InvalidToken):  # expired: checked again, and refused
        verifier.verify("gone.by.now")


def test_a_full_verifier_forgets_its_oldest_tokens_and_keeps_the_newest(keypair):
    from festflow_contracts.tokens import Identity

    _, public = keypair
    verifier = TokenVerifier(public, remember=100)
    later = int(time.time()) + 60
    for n in range(250):  # a drop's buyers log in: more than the verifier keeps
        verifier.remember(f"token.{n}.x", Identity(f"buyer{n}", "client", "b@x", f"j{n}", later))
    for n in range(175, 250):  # the last three quarters of what it keeps: still known
        assert verifier.verify(f"token.{n}.x").username == f"buyer{n}"
    with pytest.raises(InvalidToken):  # an old one was forgotten: checked again, and it is no real token
        verifier.verify("token.0.x")
    assert len(verifier._verified) <= 100


def test_ending_an_accounts_sessions_refuses_its_tokens_issued_until_then_and_no_later_or_other_ones(keypair):
    private, public = keypair
    verifier = TokenVerifier(public)
    now = time.time()
    before = _token(private, iat=round(now - 0.002, 3), jti="a")
    after = _token(private, iat=round(now + 0.002, 3), jti="b")
    someone_else = _token(private, sub="other", iat=round(now - 5, 3), jti="c")
    assert verifier.verify(before).issued_at == round(now - 0.002, 3)  # checked once, then remembered
    verifier.end_sessions("guest", now)
    with pytest.raises(InvalidToken, match="session has ended"):
        verifier.verify(before)  # remembered, and still refused
    with pytest.raises(InvalidToken, match="session has ended"):
        verifier.verify(_token(private, iat=int(now) - 60))  # checked afresh: refused too
    assert verifier.verify(after).token_id == "b"  # a login after the reset
    assert verifier.verify(someone_else).username == "other"
    verifier.end_sessions("guest", now - 100)  # an older end, heard late, changes nothing
    with pytest.raises(InvalidToken, match="session has ended"):
        verifier.verify(before)
