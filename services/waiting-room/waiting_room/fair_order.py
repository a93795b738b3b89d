"""The waiting room's random order, which anyone can check.

Before the pre-queue closes the room publishes the SHA-256 of a secret seed (its commitment); at the start it
draws the places of everyone who joined before it with that seed and then publishes the seed. Each account
joins under a join id that the room cannot choose: the SHA-256 (hex) of `<room>:<username>`. The places are
the join ids sorted by HMAC-SHA256(key = the seed's bytes, message = the join id) in hex, ascending: anyone
with the seed and the list of join ids (GET /api/queue/fairness) computes the same order, and each buyer
finds their own join id in it. Later arrivals queue after the drawn ones, first come first served.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

DERIVATION = ("join_id = SHA-256 hex of '<room>:<username>'; places = join ids sorted by "
              "HMAC-SHA256(key = bytes of the hex seed, message = join id) as hex, ascending; "
              "commitment = SHA-256 hex of the seed's bytes")


def new_seed() -> str:
    return secrets.token_hex(32)


def commitment(seed: str) -> str:
    return hashlib.sha256(bytes.fromhex(seed)).hexdigest()


def join_id(room: str, username: str) -> str:
    return hashlib.sha256(f"{room}:{username}".encode()).hexdigest()


def draw_key(seed: str, joined: str) -> str:
    return hmac.new(bytes.fromhex(seed), joined.encode(), hashlib.sha256).hexdigest()


def draw(seed: str, join_ids: Iterable[str]) -> list[str]:
    """The join ids in the order of their places (the first has place 1)."""
    return sorted(join_ids, key=lambda joined: (draw_key(seed, joined), joined))
