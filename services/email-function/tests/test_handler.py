"""The email function against a real SMTP server (aiosmtpd, in this process)."""
import email
import email.policy
import io
import socket

import pytest
from aiosmtpd.controller import Controller

from email_function.handler import SqliteSentLog, build_message, handle, mail_key
from email_function.settings import Settings
from festflow_contracts import events
from festflow_contracts.fixtures import sample


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def received(inbox: Inbox, index: int) -> email.message.EmailMessage:
    """The index-th mail as the SMTP server got it, parsed as a mail client would."""
    return email.message_from_bytes(inbox.messages[index].content, policy=email.policy.default)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, Settings(smtp_port=controller.port, mail_from="FestFlow <t@festflow.local>")
    controller.stop()


@pytest.fixture
def sent_log(tmp_path):
    return SqliteSentLog(str(tmp_path / "sent.db"))


def sold_event():
    """The ticketing service's recorded sample (a confirmed order's tickets), about an order of our own."""
    return sample(events.TICKETS_ISSUED,
                  order_id="0f0e0d0c-1111-2222-3333-444455556666", username="guest", email="guest@festflow.local",
                  items=[{"ticket_id": "vip", "name": "VIP Weekend", "quantity": 2, "unit_price_cents": 24900}],
                  total_cents=49800)


def test_confirmation_mail_is_sent_once(smtp, sent_log):
    inbox, settings = smtp
    event = sold_event()
    assert handle(event, settings, sent_log) is not None
    assert handle(event, settings, sent_log) is None  # the same event again: no second mail
    copy = {**event, "id": "another-event-id"}
    assert handle(copy, settings, sent_log) is None  # the same outcome in another event: none either
    assert len(inbox.messages) == 1
    envelope = inbox.messages[0]
    assert envelope.rcpt_tos == ["guest@festflow.local"]
    text = envelope.content.decode()
    assert "order 0f0e0d0c confirmed" in text
    plain = email.message_from_bytes(envelope.content, policy=email.policy.default).get_body(("plain",)).get_content()
    assert "2 x VIP Weekend" in plain and "498.00" in plain


def test_rejection_mail_carries_the_reason(smtp, sent_log):
    inbox, settings = smtp
    event = sample(events.ORDER_REJECTED, order_id="abc", username="guest", email="guest@festflow.local",
                   reason="VIP Weekend is sold out")
    handle(event, settings, sent_log)
    assert "VIP Weekend is sold out" in inbox.messages[0].content.decode()


def test_a_rejection_and_a_cancellation_arrive_with_their_headers_and_any_text_intact(smtp, sent_log):
    inbox, settings = smtp
    rejected = sample(events.ORDER_REJECTED, order_id="0f0e0d0c-1111-2222-3333-444455556666", username="zoë",
                      email="zoe@festflow.local", reason="Café Stage Pass is sold out")
    cancelled = sample(events.ORDER_CANCELLED)
    handle(rejected, settings, sent_log)
    handle(cancelled, settings, sent_log)
    first, second = received(inbox, 0), received(inbox, 1)
    assert first["To"] == "zoe@festflow.local" and first["From"] == "FestFlow <t@festflow.local>"
    assert first["Subject"] == "Your FestFlow order 0f0e0d0c could not be completed"
    assert first["Message-ID"] == "<order-outcome.0f0e0d0c-1111-2222-3333-444455556666@festflow.local>"
    assert first["X-FestFlow-Order"] == "0f0e0d0c-1111-2222-3333-444455556666" and first["Date"]
    assert first["X-FestFlow-Event"] == events.ORDER_REJECTED
    assert "Hello zoë," in first.get_content() and "Café Stage Pass is sold out" in first.get_content()
    assert second["To"] == cancelled["data"]["email"] and cancelled["data"]["reason"] in second.get_content()
    assert second["Message-ID"] == f"<order-cancelled.{cancelled['data']['order_id']}@festflow.local>"


def test_a_mail_to_an_internationalised_address_goes_out_encoded(sent_log):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), enable_SMTPUTF8=True)
    controller.start()
    try:
        settings = Settings(smtp_port=controller.port, mail_from="FestFlow <t@festflow.local>")
        event = sample(events.ORDER_REJECTED, order_id="abc", username="jürgen", email="jürgen@münchen.example",
                       reason="sold out")
        assert handle(event, settings, sent_log) is not None
        assert inbox.messages[0].rcpt_tos == ["jürgen@münchen.example"]
        assert received(inbox, 0)["To"] == "jürgen@münchen.example"
    finally:
        controller.stop()


def test_a_header_with_a_line_break_is_refused_and_nothing_is_sent(smtp, sent_log):
    from email_function.handler import plain_mail
    inbox, settings = smtp
    with pytest.raises(ValueError):
        plain_mail(settings, "a@festflow.local\r\nBcc: everyone@example.org", "Hi", {}, "text")
    event = sample(events.ACCOUNT_REGISTERED)
    event = {**event, "data": {**event["data"], "username": "eve\nBcc: everyone@example.org"}}
    with pytest.raises(ValueError):
        handle(event, settings, sent_log)
    assert inbox.messages == [] and not sent_log.seen(mail_key(event))


def test_other_events_send_nothing(smtp, sent_log):
    inbox, settings = smtp
    assert handle(sample(events.TICKET_TYPE_CHANGED), settings, sent_log) is None
    assert handle(sample(events.ORDER_CONFIRMED), settings, sent_log) is None  # the tickets' mail confirms the sale
    assert inbox.messages == []


def test_unreachable_smtp_raises_and_records_nothing(sent_log):
    settings = Settings(smtp_port=_free_port(), mail_from="x@y", smtp_timeout=1)
    event = sold_event()
    with pytest.raises(OSError):
        handle(event, settings, sent_log)
    assert not sent_log.seen(mail_key(event))  # so the trigger retries it


def test_message_id_names_the_order_outcome_whichever_event_brings_it():
    event = sold_event()
    msg = build_message(event, Settings(smtp_host="h", smtp_port=1, mail_from="f@x"))
    again = build_message({**event, "id": "another-event"}, Settings(smtp_host="h", smtp_port=1, mail_from="f@x"))
    assert msg["Message-ID"] == again["Message-ID"] == f"<order-outcome.{event['data']['order_id']}@festflow.local>"


@pytest.mark.parametrize("type_,path,secret_field", [
    (events.ACCOUNT_REGISTERED, "/account/verify-email?token=", "verify_token"),
    (events.PASSWORD_RESET_REQUESTED, "/account/reset-password?token=", "reset_token"),
    (events.LOGIN_LINK_REQUESTED, "/account/login-link?token=", "login_token"),
])
def test_account_mails_carry_their_one_time_link_and_go_once_per_event(smtp, sent_log, type_, path, secret_field):
    inbox, settings = smtp
    event = sample(type_)  # the order service's recorded sample
    message = handle(event, settings.model_copy(update={"public_url": "https://tickets.example.org"}), sent_log)
    assert message is not None and message["To"] == event["data"]["email"]
    body = received(inbox, 0).get_content()
    assert f"https://tickets.example.org{path}{event['data'][secret_field]}" in body
    assert "works once" in body
    assert handle(event, settings, sent_log) is None  # redelivered: no second mail
    assert handle({**event, "id": "a-new-link"}, settings, sent_log) is not None  # a new request: a new mail
    assert len(inbox.messages) == 2


def test_a_sign_up_with_a_taken_address_tells_the_owner_their_username_once(smtp, sent_log):
    inbox, settings = smtp
    event = sample(events.SIGN_UP_FOR_EXISTING_ACCOUNT)  # the order service's recorded sample
    message = handle(event, settings.model_copy(update={"public_url": "https://tickets.example.org"}), sent_log)
    assert message is not None and message["To"] == event["data"]["email"]
    assert message["Subject"] == "You already have a FestFlow account"
    body = received(inbox, 0).get_content()
    assert f"its username is {event['data']['username']}" in body
    assert "https://tickets.example.org/login" in body and "https://tickets.example.org/account/forgot-password" in body
    assert handle(event, settings, sent_log) is None and len(inbox.messages) == 1  # redelivered: no second mail


def test_the_confirmation_names_the_festival_its_dates_and_place(smtp, sent_log):
    inbox, settings = smtp
    event = sample(events.TICKETS_ISSUED)  # the festival travels from the sale to the tickets
    festival = event["data"]["festival"]
    message = handle(event, settings, sent_log)
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert festival["name"] in message["Subject"] and festival["name"] in body
    assert "When:  Fri 16 - Sun 18 July 2027" in body
    assert f"Where: {festival['address']}" in body


def test_the_confirmation_is_html_with_each_tickets_qr_code_and_a_pdf_page_per_ticket(smtp, sent_log):
    import zxingcpp
    from PIL import Image
    inbox, settings = smtp
    event = sample(events.TICKETS_ISSUED)
    tickets = event["data"]["tickets"]
    handle(event, settings, sent_log)
    mail = email.message_from_bytes(inbox.messages[0].content, policy=email.policy.default)
    html = mail.get_body(preferencelist=("html",)).get_content()
    images = [part for part in mail.walk() if part.get_content_type() == "image/png"]
    assert len(images) == len(tickets) == html.count('<img src="cid:')
    decoded = [zxingcpp.read_barcodes(Image.open(io.BytesIO(part.get_content())))[0].text for part in images]
    assert decoded == [ticket["qr"] for ticket in tickets]  # each image is its ticket's signed payload
    [pdf] = [part for part in mail.iter_attachments() if part.get_content_type() == "application/pdf"]
    data = pdf.get_content()
    assert data.startswith(b"%PDF")
    from pypdf import PdfReader
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == len(tickets)
    assert all(ticket["code"] in page.extract_text() for ticket, page in zip(tickets, reader.pages, strict=True))


def test_tickets_sent_again_and_a_cancellation_are_mails_of_their_own(smtp, sent_log):
    inbox, settings = smtp
    resent = sample(events.TICKETS_RESENT)  # the ticketing service's sample
    message = handle(resent, settings, sent_log)
    assert "(sent again)" in message["Subject"] and message.get_body(("html",)) is not None
    assert handle(resent, settings, sent_log) is None  # that request, redelivered: no second mail
    assert handle({**resent, "id": "another-request"}, settings, sent_log) is not None
    cancelled = sample(events.ORDER_CANCELLED)  # the inventory's sample
    message = handle(cancelled, settings, sent_log)
    assert "was cancelled" in message["Subject"] and cancelled["data"]["reason"] in received(inbox, 2).get_content()
    assert handle({**cancelled, "id": "copy"}, settings, sent_log) is None
    assert len(inbox.messages) == 3


class CountingInbox(Inbox):
    def __init__(self):
        super().__init__()
        self.sessions = set()

    async def handle_DATA(self, server, session, envelope):
        self.sessions.add(id(session))
        return await super().handle_DATA(server, session, envelope)


def test_a_kept_session_sends_many_mails_over_one_connection_and_reconnects_when_dropped(tmp_path):
    from email_function.handler import SmtpSession

    inbox = CountingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings = Settings(smtp_port=controller.port, mail_from="FestFlow <t@festflow.local>")
    session = SmtpSession(settings)
    try:
        rejected = [sample(events.ORDER_REJECTED, order_id=f"00000000-0000-0000-0000-00000000000{n}",
                           username="guest", email="guest@festflow.local", reason="sold out") for n in range(3)]
        sent_log = SqliteSentLog(str(tmp_path / "sent.db"))
        for event in rejected[:2]:
            assert handle(event, settings, sent_log, session) is not None
        assert len(inbox.messages) == 2 and len(inbox.sessions) == 1  # one connection for both
        controller.stop()  # the server goes away and comes back: the kept connection is dead
        controller = Controller(inbox, hostname="127.0.0.1", port=settings.smtp_port)
        controller.start()
        assert handle(rejected[2], settings, sent_log, session) is not None
        assert len(inbox.messages) == 3 and len(inbox.sessions) == 2
    finally:
        session.close()
        controller.stop()


def test_an_order_to_pay_gets_how_to_pay_then_that_it_expired_then_that_a_late_payment_goes_back(smtp, sent_log):
    inbox, settings = smtp
    order_id = "0f0e0d0c-1111-2222-3333-444455556666"
    mine = {"order_id": order_id, "username": "guest", "email": "guest@festflow.local"}
    held = sample(events.ORDER_HELD, **mine, total_cents=49800, due_at="2027-03-06T10:00:00.000Z",
                  reference="RF18ABCDEFGHJKMN", pay_to={"iban": "DE89370400440532013000", "bic": "COBADEFFXXX",
                                                        "beneficiary": "Summer Fest GmbH"})
    expired = sample(events.ORDER_EXPIRED, **mine, due_at="2027-03-06T10:00:00.000Z")
    refund = sample(events.ORDER_REFUND_DUE, **mine, amount_cents=49800,
                    reason="paid after its deadline, when VIP Weekend had too few left: the payment will be refunded")
    for event in (held, held, expired, refund, {**refund, "id": "the-same-refund-again"}):
        handle(event, settings, sent_log)
    assert len(inbox.messages) == 3
    pay, ran_out, back = (received(inbox, i) for i in range(3))
    assert pay["Subject"] == "Your FestFlow order 0f0e0d0c: please pay by 06 Mar 2027, 10:00 UTC"
    text = pay.get_content()
    assert "DE89 3704 0044 0532 0130 00" in text and "RF18 ABCD EFGH JKMN" in text and "498.00" in text
    assert f"{settings.public_url}/cart/orders/{order_id}" in text and "Summer Fest GmbH" in text
    assert ran_out["Subject"] == "Your FestFlow order 0f0e0d0c has expired"
    assert "back on sale" in ran_out.get_content() and "06 Mar 2027, 10:00 UTC" in ran_out.get_content()
    assert back["Subject"] == "Your payment for FestFlow order 0f0e0d0c will be refunded"
    assert "498.00" in back.get_content() and "too few left" in back.get_content()


def test_an_abandoned_unpaid_order_is_told_that_nothing_is_owed(smtp, sent_log):
    inbox, settings = smtp
    handle(sample(events.ORDER_CANCELLED, reason="abandoned by the buyer before paying", unpaid=True), settings,
           sent_log)
    text = received(inbox, 0).get_content()
    assert "unpaid order" in text and "nothing is owed" in text and "no longer admit" not in text


def test_one_cancelled_ticket_gets_a_mail_of_its_own_and_the_rest_of_the_order_another(smtp, sent_log):
    inbox, settings = smtp
    part = sample(events.ORDER_CANCELLED, reason="one cannot come", codes=["CODE-BBBB"], refund_cents=24900)
    rest = sample(events.ORDER_CANCELLED, reason="none can come")
    for event in (part, part, rest):
        handle(event, settings, sent_log)
    first, second = received(inbox, 0), received(inbox, 1)
    assert len(inbox.messages) == 2
    assert "1 ticket of your FestFlow order" in first["Subject"] and "CODE-BBBB" in first.get_content()
    assert "€249.00 will be refunded" in first.get_content() and "other tickets stay valid" in first.get_content()
    assert "was cancelled" in second["Subject"] and first["Message-ID"] != second["Message-ID"]


def test_a_card_hold_gets_its_mail_and_a_transfer_chosen_after_it_another(smtp, sent_log):
    inbox, settings = smtp
    order_id = "0f0e0d0c-1111-2222-3333-444455556666"
    mine = {"order_id": order_id, "username": "guest", "email": "guest@festflow.local", "total_cents": 49800,
            "reference": "RF18ABCDEFGHJKMN"}
    card = sample(events.ORDER_HELD, **mine, method="card", due_at="2027-03-01T10:15:00.000Z")
    transfer = sample(events.ORDER_HELD, **mine, method="bank_transfer", due_at="2027-03-06T10:00:00.000Z")
    for event in (card, card, transfer, transfer):
        handle(event, settings, sent_log)
    assert len(inbox.messages) == 2
    by_card, by_transfer = received(inbox, 0), received(inbox, 1)
    assert by_card["Subject"] == "Your FestFlow order 0f0e0d0c: please pay by 01 Mar 2027, 10:15 UTC"
    text = by_card.get_content()
    assert "Pay by card on your order's page" in text and "DE89" not in text and "bank transfer there instead" in text
    assert "06 Mar 2027" in by_transfer["Subject"] and "DE89 3704 0044 0532 0130 00" in by_transfer.get_content()
