"""What a ticket's QR code carries: its code, ticket type and festival, signed with Ed25519.

    FF1.<key id>.<base64url of "code|ticket type|festival">.<base64url of the signature>

The key id (the first 8 hex digits of the public key's SHA-256) lets keys rotate: a gate knows which key
signed a ticket. A gate can tell a genuine ticket from a forged or altered one with the public key
alone, before it asks the server; the server verifies again at every scan.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "FF1"


class ForgedTicket(ValueError):
    """The payload is not one FestFlow signed: malformed, altered, or signed by an unknown key."""


@dataclass(frozen=True)
class SignedTicket:
    code: str
    ticket_type: str
    festival: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:8]


def generate_key_pem() -> str:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


class TicketSigner:
    def __init__(self, private_key_pem: str, older_public_keys: tuple[Ed25519PublicKey, ...] = ()):
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the ticket signing key must be an Ed25519 key")
        self._private = key
        self.key_id = key_id(key.public_key())
        self._public = {self.key_id: key.public_key(), **{key_id(k): k for k in older_public_keys}}

    def public_key_pem(self) -> str:
        return self._private.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, ticket: SignedTicket) -> str:
        if any("|" in part for part in (ticket.code, ticket.ticket_type, ticket.festival)):
            raise ValueError("a ticket's parts cannot contain '|'")
        body = f"{ticket.code}|{ticket.ticket_type}|{ticket.festival}".encode()
        return ".".join((PREFIX, self.key_id, _b64(body), _b64(self._private.sign(body))))

    def verify(self, payload: str) -> SignedTicket:
        parts = payload.strip().split(".")
        if len(parts) != 4 or parts[0] != PREFIX:
            raise ForgedTicket("not a FestFlow ticket")
        _, kid, body_text, signature_text = parts
        public = self._public.get(kid)
        if public is None:
            raise ForgedTicket("signed by a key this gate does not know")
        try:
            body, signature = _unb64(body_text), _unb64(signature_text)
            public.verify(signature, body)
            code, ticket_type, festival = body.decode().split("|")
        except (InvalidSignature, ValueError, UnicodeDecodeError):
            raise ForgedTicket("the signature does not match: the ticket was altered or forged") from None
        return SignedTicket(code, ticket_type, festival)
