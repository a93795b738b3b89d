"""The Kafka trigger: invokes the handler for each order event, committing the offset after it."""
from __future__ import annotations

import asyncio
import logging

from email_function.handler import SentLog, SmtpSession, handle, wants
from email_function.settings import Settings
from festflow_contracts.channels import ACCOUNT_EVENTS_TOPIC, ORDER_EVENTS_TOPIC, TICKET_EVENTS_TOPIC
from festflow_runtime.activity import ActivityLog
from festflow_runtime.event_stream import Subscription

log = logging.getLogger("email_function")


def make_invoker(settings: Settings, sent_log: SentLog, session: SmtpSession | None = None):
    sent = ActivityLog(log, "mails sent")  # one line per period: a drop sends hundreds a second

    async def invoke(event: dict) -> None:
        if not wants(event):  # a sale's own event, say: its mail comes with the tickets (no thread for it)
            return
        message = await asyncio.to_thread(handle, event, settings, sent_log, session)
        if message is not None:
            sent.count(str(event.get("type", "")).removeprefix("festflow.").removesuffix(".v1"))
            log.debug("mail sent to %s: %s", message["To"], message["Subject"])
    return invoke


def subscribe(bootstrap: str, settings: Settings, sent_log: SentLog,
              session: SmtpSession | None = None) -> Subscription:
    """The trigger: consumer group `email-function`, from the earliest event not yet handled."""
    return Subscription(bootstrap, (ORDER_EVENTS_TOPIC, TICKET_EVENTS_TOPIC, ACCOUNT_EVENTS_TOPIC),
                        make_invoker(settings, sent_log, session),
                        group_id="email-function", from_beginning=True)
