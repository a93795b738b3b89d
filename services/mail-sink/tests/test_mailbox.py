from email.message import EmailMessage

from mail_sink.mailbox import Mailbox


def test_stored_mail_is_listed_with_headers_and_body(tmp_path):
    box = Mailbox(tmp_path)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@x", "b@y", "Hello"
    msg.set_content("body text")
    box.store(msg.as_bytes())
    [listed] = box.messages()
    assert (listed["from"], listed["to"], listed["subject"]) == ("a@x", "b@y", "Hello")
    assert listed["body"].strip() == "body text"


def test_a_new_mailbox_continues_numbering(tmp_path):
    Mailbox(tmp_path).store(b"Subject: one\r\n\r\nx")
    Mailbox(tmp_path).store(b"Subject: two\r\n\r\ny")
    assert [m["subject"] for m in Mailbox(tmp_path).messages()] == ["one", "two"]


def test_messages_about_one_order(tmp_path):
    box = Mailbox(tmp_path)
    box.store(b"Subject: a\r\nX-FestFlow-Order: o1\r\n\r\nx")
    box.store(b"Subject: b\r\nX-FestFlow-Order: o2\r\n\r\ny")
    assert [m["subject"] for m in box.messages("o2")] == ["b"]
    assert [m["subject"] for m in Mailbox(tmp_path).messages("o1")] == ["a"]  # a reopened mailbox knows them


def test_the_same_message_sent_twice_is_kept_once(tmp_path):
    box = Mailbox(tmp_path)
    raw = b"Subject: a\r\nMessage-ID: <order-outcome.o1@festflow.local>\r\n\r\nx"
    assert box.store(raw) is not None and box.store(raw) is None
    assert len(box.messages()) == 1 and len(list(tmp_path.glob("*.eml"))) == 1


def test_the_count_says_how_many_are_kept_and_a_copy_is_not_counted(tmp_path):
    box = Mailbox(tmp_path)
    assert box.count() == 0
    box.store(b"Subject: a\r\nMessage-ID: <a@festflow.local>\r\n\r\nx")
    box.store(b"Subject: a\r\nMessage-ID: <a@festflow.local>\r\n\r\nx")
    box.store(b"Subject: b\r\n\r\ny")
    assert box.count() == 2 and Mailbox(tmp_path).count() == 2
