"""The waiting room's pass: what an admitted buyer shows the order service at checkout. Issued by the waiting
room, verified by the order service with the same secret and no call between them (the pass is checked on
the checkout's hot path, like the token).

A pass is `<payload>.<signature>`, both base64url without padding: the payload is JSON
`{"sub": username, "room": room id, "pid": pass id (its replay id: one order per pass), "exp": unix seconds}`,
the signature HMAC-SHA256 over the payload's bytes with the secret both apps are given
(WAITING_ROOM_SECRET). A pass names one account: another account cannot use it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

# the header a checkout carries it in (mf-cart forwards the buyer's cookie of the same name as it)
HEADER = "X-Waiting-Room-Pass"
COOKIE = "festflow_pass"


class InvalidPass(ValueError):
    """Why a pass is refused (said to the buyer)."""


@dataclass(frozen=True)
class Pass:
    username: str
    room: str
    pass_id: str
    expires: int  # unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(issued: Pass, secret: str) -> str:
    payload = json.dumps({"sub": issued.username, "room": issued.room, "pid": issued.pass_id,
                          "exp": issued.expires}, separators=(",", ":"), sort_keys=True).encode()
    signature = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def verify(token: str, secret: str, username: str, now: float | None = None) -> Pass:
    """The pass, if it is genuine, unexpired and the account's; InvalidPass with the reason otherwise."""
    try:
        payload_text, signature_text = token.strip().split(".")
        payload, signature = _unb64(payload_text), _unb64(signature_text)
    except ValueError:
        raise InvalidPass("the waiting-room pass is malformed") from None
    if not hmac.compare_digest(signature, hmac.new(secret.encode(), payload, hashlib.sha256).digest()):
        raise InvalidPass("the waiting-room pass is not genuine")
    try:
        claims = json.loads(payload)
        issued = Pass(str(claims["sub"]), str(claims["room"]), str(claims["pid"]), int(claims["exp"]))
    except (ValueError, KeyError, TypeError):
        raise InvalidPass("the waiting-room pass is malformed") from None
    if issued.username != username:
        raise InvalidPass("the waiting-room pass is another account's")
    if issued.expires <= (time.time() if now is None else now):
        raise InvalidPass("the waiting-room pass has expired: join the waiting room again")
    return issued
