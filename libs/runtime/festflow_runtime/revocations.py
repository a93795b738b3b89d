"""Logged-out tokens and ended sessions, heard by every app that verifies tokens: a Subscription to the
auth events that tells the app's TokenVerifier which token ids, and which accounts' tokens issued before
a time, to refuse from now on."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from festflow_contracts import events, messages
from festflow_contracts.channels import AUTH_EVENTS_TOPIC
from festflow_contracts.messages import SessionsEnded, TokenRevoked
from festflow_contracts.tokens import TokenVerifier
from festflow_runtime.event_stream import Subscription


def revocation_handler(verifier: TokenVerifier) -> Callable[[dict[str, Any]], Awaitable[None]]:
    async def apply(event: dict[str, Any]) -> None:
        if event["type"] == events.TOKEN_REVOKED:
            revoked = messages.parse(event, TokenRevoked)
            verifier.revoke(revoked.jti, revoked.exp)
        elif event["type"] == events.SESSIONS_ENDED:
            ended = messages.parse(event, SessionsEnded)
            verifier.end_sessions(ended.username, ended.before)
    return apply


def subscribe_revocations(bootstrap: str, verifier: TokenVerifier) -> Subscription:
    """From the start of the topic (a day of revocations): every instance knows every logout."""
    return Subscription(bootstrap, (AUTH_EVENTS_TOPIC,), revocation_handler(verifier), group_id=None,
                        from_beginning=True)
