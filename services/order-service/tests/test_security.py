
from festflow_contracts.money import cents_to_str
from festflow_contracts.tokens import TokenVerifier, generate_keypair
from order_service.security import TokenIssuer, check_password, hash_password


def test_passwords_are_hashed_and_checked():
    hashed = hash_password("festflow")
    assert hashed != "festflow" and hashed.startswith("$2")
    assert check_password("festflow", hashed) and not check_password("wrong", hashed)


def test_issued_tokens_verify_with_the_public_key_and_expire():
    private, public = generate_keypair()
    identity = TokenVerifier(public).verify(TokenIssuer(private, 60).issue("admin", "admin", "a@x"))
    assert identity.is_admin and identity.username == "admin"
    assert TokenVerifier(public).identify(TokenIssuer(private, -1).issue("admin", "admin", "a@x")) is None


def test_money_format():
    assert [cents_to_str(c) for c in (0, 5, 8900, 123456)] == ["0.00", "0.05", "89.00", "1234.56"]
    assert cents_to_str(None) is None


def test_the_issuing_service_remembers_its_tokens_with_the_identity_a_signature_check_gives():
    private, public = generate_keypair()
    own = TokenVerifier(public)
    token = TokenIssuer(private, 60, own).issue("guest", "client", "g@x", email_verified=True)
    own._check = None  # type: ignore[method-assign]  # any signature check now fails loudly
    remembered = own.verify(token)
    assert remembered == TokenVerifier(public).verify(token)  # the same as a fresh check of the signature
    assert remembered.username == "guest" and remembered.token_id and remembered.expires > 0
    assert remembered.email_verified is True
