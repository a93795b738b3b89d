"""The function: one order event in, at most one email out.

`handle(event, settings, sent_log)` is a plain function of the event and its settings, so it can run
unchanged under a FaaS platform's Kafka trigger; `kafka_trigger` is this project's own trigger.
The sent log remembers which events were mailed, so processing an event twice sends one mail.
"""
from __future__ import annotations

import email.policy
import hashlib
import smtplib
import sqlite3
import threading
from email.charset import QP, Charset
from email.message import EmailMessage, Message
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formatdate
from typing import Any, Protocol
from urllib.parse import urlencode

from email_function import payment_mails, tickets_mail
from email_function.settings import Settings
from festflow_contracts import events, messages
from festflow_contracts.messages import (
    AccountRegistered,
    FestivalSummary,
    LoginLinkRequested,
    OrderCancelled,
    OrderExpired,
    OrderHeld,
    OrderRefundDue,
    OrderRejected,
    PasswordResetRequested,
    SignUpForExistingAccount,
    TicketsIssued,
    TicketsResent,
)
from festflow_contracts.money import euros
from festflow_runtime import display


class SentLog(Protocol):
    def seen(self, event_id: str) -> bool: ...
    def record(self, event_id: str) -> None: ...


class SqliteSentLog:
    """The function's only memory: ids of events already mailed (a file, or a table elsewhere in a FaaS)."""

    def __init__(self, path: str):
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # no fsync per mail: after a power cut a mail may go twice, with the same Message-ID (shown once)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS sent (event_id TEXT PRIMARY KEY, sent_at TEXT)")
        self._lock = threading.Lock()

    def seen(self, event_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM sent WHERE event_id = ?", (event_id,)).fetchone() is not None

    def record(self, event_id: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO sent VALUES (?, datetime('now'))", (event_id,))


def build_account_message(event: dict[str, Any], settings: Settings) -> Message | None:
    """The mail with a one-time link (confirm the address after sign-up, or set a new password), or the
    word to an account's owner that somebody signed up with their address."""
    message = messages.parse_any(event)
    if not isinstance(message, AccountRegistered | PasswordResetRequested | SignUpForExistingAccount
                      | LoginLinkRequested):
        return None
    headers = {"Message-ID": f"<account.{event['id']}@festflow.local>", "X-FestFlow-Account": message.username,
               "X-FestFlow-Event": event["type"]}
    if isinstance(message, SignUpForExistingAccount):
        return plain_mail(settings, message.email, "You already have a FestFlow account", headers,
            f"Hello {message.username},\n\nsomebody (we hope you) tried to create a new FestFlow account with "
            f"this address. You have an account already: its username is {message.username}.\n\n"
            f"Log in: {settings.public_url}/login\n"
            f"Forgot your password? {settings.public_url}/account/forgot-password\n\n"
            "If it was not you, ignore this mail: nothing was changed.\n\nFestFlow\n")
    expires = display.moment(message.expires_at)
    if isinstance(message, LoginLinkRequested):
        link = f"{settings.public_url}/account/login-link?{urlencode({'token': message.login_token})}"
        return plain_mail(settings, message.email, "Your one-time FestFlow login link", headers,
            f"Hello {message.username},\n\nyour FestFlow account has seen many wrong passwords lately, from "
            f"several places. To keep it yours, logging in now takes this one-time link:\n\n{link}\n\n"
            f"The link works once, until {expires}.\nIf you did not try to log in just now, somebody else "
            f"did: consider setting a new password ({settings.public_url}/account/forgot-password).\n\nFestFlow\n")
    if isinstance(message, AccountRegistered):
        link = f"{settings.public_url}/account/verify-email?{urlencode({'token': message.verify_token})}"
        return plain_mail(settings, message.email, "Confirm your email address for FestFlow", headers,
            f"Hello {message.username},\n\nwelcome to FestFlow. Open this link to confirm your address; "
            f"then you can buy tickets:\n\n{link}\n\nThe link works once, until {expires}.\n"
            "If you did not sign up, ignore this mail.\n\nFestFlow\n")
    link = f"{settings.public_url}/account/reset-password?{urlencode({'token': message.reset_token})}"
    return plain_mail(settings, message.email, "Set a new FestFlow password", headers,
        f"Hello {message.username},\n\nsomebody (we hope you) asked to set a new password for your FestFlow "
        f"account. Open this link to choose one:\n\n{link}\n\nThe link works once, until {expires}.\n"
        "If you did not ask, ignore this mail: your password stays as it is.\n\nFestFlow\n")


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # the text stays readable in the raw mail, as EmailMessage writes it
# headers unfolded (RFC 5322 allows 998 characters a line): the classic API folds a long one as
# "Message-ID: " + line break, which readers then see with a leading space
_CLASSIC = email.policy.compat32.clone(max_line_length=998)


def mail_headers(settings: Settings, to: str, subject: str, headers: dict[str, str]) -> dict[str, str]:
    """Every mail's headers: From, To, Date and Subject, then its own."""
    return {"From": settings.mail_from, "To": to, "Date": formatdate(localtime=False), "Subject": subject, **headers}


def modern_mail(fields: dict[str, str]) -> EmailMessage:
    """An EmailMessage with these headers (it encodes non-ASCII ones and refuses a line break in any)."""
    msg = EmailMessage()
    for name, value in fields.items():
        msg[name] = value
    return msg


def plain_mail(settings: Settings, to: str, subject: str, headers: dict[str, str], text: str) -> Message:
    """A text-only mail: From, To, Date and Subject, then `headers`, then the text.

    When every header is ASCII (in practice every mail but one to an internationalised address) it is
    built with the standard library's classic message API: five times cheaper than EmailMessage, whose
    header registry parses each header into objects (about 0.9 ms a mail here, and a drop sends a
    rejection to nearly every buyer). Otherwise EmailMessage builds it, which encodes such headers (and
    smtplib then sends it with SMTPUTF8). Either way a header value with a line break is refused
    (ValueError), as EmailMessage itself refuses one."""
    fields = mail_headers(settings, to, subject, headers)
    if any("\r" in value or "\n" in value for value in fields.values()):
        raise ValueError("a mail header cannot contain a line break")
    if not all(value.isascii() for value in fields.values()):
        msg = modern_mail(fields)
        msg.set_content(text)
        return msg
    classic = MIMENonMultipart("text", "plain", policy=_CLASSIC)
    classic.set_payload(text, "us-ascii" if text.isascii() else _UTF8_QP)
    for name, value in fields.items():
        classic[name] = value
    return classic


def festival_lines(festival: FestivalSummary) -> str:
    """The festival's name, dates and place, for the confirmation."""
    lines = [f"\n{festival.name}"]
    if festival.starts_on:
        lines.append(f"When:  {display.date_range(festival.starts_on, festival.ends_on)}")
    where = display.place(festival.venue, festival.address)
    if where:
        lines.append(f"Where: {where}")
    return "\n".join(lines) + "\n"


def build_message(event: dict[str, Any], settings: Settings) -> Message | None:
    """The order's outcome: its tickets once issued (the confirmation), or why it was rejected; later its
    tickets sent again, or its cancellation."""
    outcome = messages.parse_any(event)
    if not isinstance(outcome, TicketsIssued | OrderRejected | OrderCancelled | OrderHeld | OrderExpired
                      | OrderRefundDue) or not outcome.email:
        return None
    order_id = outcome.order_id
    # one Message-ID per order outcome: a mail sent again after a crash (between the SMTP send and its
    # record) is the same message, which mail clients and the local sink show once
    headers = {"Message-ID": f"<{mail_key(event).replace(':', '.')}@festflow.local>", "X-FestFlow-Order": order_id,
               "X-FestFlow-Event": event["type"]}
    order_page = f"{settings.public_url}/cart/orders/{order_id}"
    if isinstance(outcome, OrderHeld | OrderExpired | OrderRefundDue):
        subject, text = payment_mails.text(outcome, order_page)
        return plain_mail(settings, outcome.email, subject, headers, text)
    if isinstance(outcome, OrderCancelled) and outcome.unpaid:
        lines = [f"  {item.quantity} x {item.name}" for item in outcome.items]
        return plain_mail(settings, outcome.email, f"Your FestFlow order {order_id[:8]} was cancelled", headers,
            f"Hello {outcome.username},\n\nyour unpaid order {order_id} was cancelled ({outcome.reason}):\n\n"
            + "\n".join(lines) + "\n\nIts tickets are back on sale and nothing is owed.\n\nFestFlow\n")
    if isinstance(outcome, OrderCancelled) and outcome.codes:
        count = len(outcome.codes)
        refund = f"\n{euros(outcome.refund_cents)} will be refunded.\n" if outcome.refund_cents else ""
        return plain_mail(settings, outcome.email, f"{count} ticket{'s' if count != 1 else ''} of your FestFlow order "
                          f"{order_id[:8]} cancelled", headers,
            f"Hello {outcome.username},\n\n{count} ticket{'s' if count != 1 else ''} of your order {order_id} "
            f"{'were' if count != 1 else 'was'} cancelled: {outcome.reason}.\n\n"
            + "\n".join(f"  {code}" for code in outcome.codes)
            + f"\n\n{'They' if count != 1 else 'It'} no longer admit{'' if count != 1 else 's'} anyone; your other "
            f"tickets stay valid.{refund}\nFestFlow\n")
    if isinstance(outcome, OrderCancelled):
        lines = [f"  {item.quantity} x {item.name}" for item in outcome.items]
        return plain_mail(settings, outcome.email, f"Your FestFlow order {order_id[:8]} was cancelled", headers,
            f"Hello {outcome.username},\n\nyour order {order_id} was cancelled: {outcome.reason}.\n\n"
            + "\n".join(lines) + "\n\nIts tickets no longer admit anyone. Write to the organiser if you have "
            "questions.\n\nFestFlow\n")
    if isinstance(outcome, OrderRejected):
        return plain_mail(settings, outcome.email, f"Your FestFlow order {order_id[:8]} could not be completed",
            headers, f"Hello {outcome.username},\n\nwe could not complete your order {order_id}: {outcome.reason}.\n"
            "You have not been charged.\n\nFestFlow\n")
    festival = outcome.festival
    again = isinstance(outcome, TicketsResent)
    subject = (f"Your tickets for {festival.name if festival else 'FestFlow'}"
               f"{' (sent again)' if again else ''} - order {order_id[:8]}{'' if again else ' confirmed'}")
    msg = modern_mail(mail_headers(settings, outcome.email, subject, headers))  # HTML, images, a PDF: modern API
    lines = [f"  {item.quantity} x {item.name} at {euros(item.unit_price_cents)}" for item in outcome.items]
    codes = [f"  {ticket.name}: {ticket.code}{' (' + ticket.holder + ')' if ticket.holder else ''}"
             f"{'' if ticket.status == 'valid' else ' - ' + ticket.status}" for ticket in outcome.tickets]
    summary = ("here are the tickets of your order " + order_id + " again, as they are now.\n" if again else
               f"your order {order_id} is confirmed.\n\n" + "\n".join(lines)
               + f"\n\nTotal: {euros(outcome.total_cents)}\n")
    text = (f"Hello {outcome.username},\n\n{summary}" + (festival_lines(festival) if festival else "")
            + "\nYour tickets (their QR codes are in this mail and in the attached PDF):\n" + "\n".join(codes)
            + "\n\nSee you at the festival!\nFestFlow\n")
    when = display.date_range(festival.starts_on, festival.ends_on) if festival else ""
    where = display.place(festival.venue, festival.address) if festival else ""
    tickets_mail.add_tickets(msg, outcome, text, when, where)
    return msg


# a sale is confirmed by mail with its tickets; later the organiser may send them again, or cancel the order
ORDER_MAILS = (events.TICKETS_ISSUED, events.ORDER_REJECTED, events.TICKETS_RESENT, events.ORDER_CANCELLED,
               events.ORDER_HELD, events.ORDER_EXPIRED, events.ORDER_REFUND_DUE)
# an order's mails about paying it, one each (a late payment may make a refund due after it expired)
PAYMENT_MAILS = {events.ORDER_HELD: "order-held", events.ORDER_EXPIRED: "order-expired",
                 events.ORDER_REFUND_DUE: "order-refund-due"}
ACCOUNT_MAILS = (events.ACCOUNT_REGISTERED, events.PASSWORD_RESET_REQUESTED, events.SIGN_UP_FOR_EXISTING_ACCOUNT,
                 events.LOGIN_LINK_REQUESTED)


def mail_key(event: dict[str, Any]) -> str:
    """What one mail is about: an order's outcome, whichever event (or copy of it) brings it; an account
    mail is about its own event (each one carries a new link)."""
    if event["type"] in ACCOUNT_MAILS:
        return f"account:{event['id']}"
    if event["type"] == events.TICKETS_RESENT:
        return f"tickets-resent:{event['id']}"  # each request to send them again is a mail
    if event["type"] == events.ORDER_CANCELLED:  # the order, or some of its tickets (a mail for each part)
        codes = event["data"].get("codes") or []
        part = ":" + hashlib.sha256(",".join(sorted(codes)).encode()).hexdigest()[:12] if codes else ""
        return f"order-cancelled:{event['data'].get('order_id')}{part}"
    if event["type"] == events.ORDER_HELD and event["data"].get("method") == "card":  # a transfer may follow
        return f"order-held:{event['data'].get('order_id')}:card"
    if event["type"] in PAYMENT_MAILS:
        return f"{PAYMENT_MAILS[event['type']]}:{event['data'].get('order_id')}"
    return f"order-outcome:{event['data'].get('order_id')}"


class SmtpSession:
    """One SMTP connection kept open between mails (a warm function reuses it, as it would a database
    connection): a drop's thousands of mails do not each pay for a connection, a greeting and a goodbye.
    A connection the server closed meanwhile is opened anew and the mail sent on it; if that fails too,
    the error goes to the caller (the trigger retries the event). Used from one thread at a time."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        with self._lock:
            while True:  # at most twice: a kept connection that failed is replaced by a fresh one
                fresh = self._smtp is None
                if self._smtp is None:
                    self._smtp = smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port,
                                              timeout=self.settings.smtp_timeout)
                try:
                    self._smtp.send_message(message)
                    return
                except (smtplib.SMTPServerDisconnected, OSError):
                    self.close_unlocked()
                    if fresh:
                        raise

    def close_unlocked(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def close(self) -> None:
        with self._lock:
            self.close_unlocked()


def send_once(settings: Settings, message: Message) -> None:
    """A connection for this one mail."""
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout) as smtp:
        smtp.send_message(message)


def wants(event: dict[str, Any]) -> bool:
    """Whether this event's type is one the function mails about (the trigger skips the others at once)."""
    return event.get("type") in ORDER_MAILS + ACCOUNT_MAILS


def handle(event: dict[str, Any], settings: Settings, sent_log: SentLog,
           session: SmtpSession | None = None) -> Message | None:
    """Sends the mail for an order or account event; returns it, or None when there is nothing (more) to
    send. One mail per order outcome: the same event again, or another event with the same outcome,
    sends none. With a `session` the mail goes over its kept connection, else over one of its own."""
    if not wants(event) or sent_log.seen(mail_key(event)):
        return None
    message = (build_account_message if event["type"] in ACCOUNT_MAILS else build_message)(event, settings)
    if message is None:
        return None
    if session is not None:
        session.send(message)
    else:
        send_once(settings, message)
    sent_log.record(mail_key(event))
    return message
