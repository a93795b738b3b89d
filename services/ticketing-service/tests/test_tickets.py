"""Issuing, signing and checking in tickets (service layer, real SQLite/PostgreSQL)."""
import asyncio
import json

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from festflow_contracts import events, fixtures, messages
from festflow_contracts.fixtures import sample
from festflow_contracts.messages import TicketSold
from ticketing_service import attendees, checkin, db, resending, ticket_changes
from ticketing_service.issuing import issue_for_sale, issue_for_sales, issue_in_order
from ticketing_service.signing import ForgedTicket, SignedTicket, TicketSigner, generate_key_pem

FESTIVAL = "festflow"


def sold(order_id="0f0e0d0c-1111-2222-3333-444455556666", **items):
    event = sample(events.ORDER_CONFIRMED, order_id=order_id, username="guest", email="guest@festflow.local",
                   items=[{"ticket_id": t, "name": t.title(), "quantity": q, "unit_price_cents": 1000}
                          for t, q in (items or {"vip": 2, "camping": 1}).items()])
    return messages.parse(event, TicketSold)  # the inventory's recorded sample, as the consumer reads it


async def outbox(engine):
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(db.event_outbox.c.payload).order_by(db.event_outbox.c.seq))).scalars()
        return [json.loads(row) for row in rows]


async def all_tickets(engine):
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(sa.select(db.tickets).order_by(db.tickets.c.position))).mappings()]


def test_a_signed_payload_verifies_and_any_change_to_it_does_not(signer):
    payload = signer.sign(SignedTicket("ABCDEFGHJKLMNPQRSTUV", "vip", FESTIVAL))
    assert signer.verify(payload) == SignedTicket("ABCDEFGHJKLMNPQRSTUV", "vip", FESTIVAL)
    prefix, kid, body, signature = payload.split(".")
    import base64
    altered = base64.urlsafe_b64encode(b"ABCDEFGHJKLMNPQRSTUV|general|festflow").rstrip(b"=").decode()
    for forged in (f"{prefix}.{kid}.{altered}.{signature}", f"{prefix}.00000000.{body}.{signature}",
                   f"{prefix}.{kid}.{body}.{signature[:-4]}AAAA", "FF1.nonsense", "https://example.org"):
        with pytest.raises(ForgedTicket):
            signer.verify(forged)
    other = TicketSigner(generate_key_pem())
    with pytest.raises(ForgedTicket, match="key this gate does not know"):
        other.verify(payload)


def test_an_older_key_still_verifies_the_tickets_it_signed_after_a_rotation(signer):
    payload = signer.sign(SignedTicket("ABCDEFGHJKLMNPQRSTUV", "vip", FESTIVAL))
    old_public = serialization.load_pem_public_key(signer.public_key_pem().encode())
    rotated = TicketSigner(generate_key_pem(), older_public_keys=(old_public,))
    assert rotated.key_id != signer.key_id and rotated.verify(payload).code == "ABCDEFGHJKLMNPQRSTUV"


async def test_a_sale_of_n_tickets_issues_n_with_distinct_codes_and_one_event(engine, signer):
    assert await issue_for_sale(engine, sold(), signer, FESTIVAL)
    issued = await all_tickets(engine)
    assert [t["ticket_id"] for t in issued] == ["vip", "vip", "camping"]
    assert len({t["code"] for t in issued}) == 3 and all(len(t["code"]) == 20 for t in issued)
    assert all(signer.verify(t["qr"]).code == t["code"] and t["status"] == "valid" for t in issued)
    [event] = await outbox(engine)
    assert event["type"] == events.TICKETS_ISSUED and event["subject"] == issued[0]["order_id"]
    assert [t["code"] for t in event["data"]["tickets"]] == [t["code"] for t in issued]
    fixtures.record(event)  # the sample the email function and the order service handle


async def test_a_redelivered_sale_issues_nothing_twice_even_at_the_same_moment(engine, signer):
    sale = sold()
    results = await asyncio.gather(*(issue_for_sale(engine, sale, signer, FESTIVAL) for _ in range(3)),
                                   return_exceptions=True)
    assert sorted(r is True for r in results) == [False, False, True], results
    assert not await issue_for_sale(engine, sale, signer, FESTIVAL)
    assert len(await all_tickets(engine)) == 3 and len(await outbox(engine)) == 1


async def test_the_sales_of_one_fetch_are_issued_together_each_once_with_its_own_event(engine, signer):
    before = sold(order_id="00000000-0000-0000-0000-000000000001", vip=1)
    await issue_for_sale(engine, before, signer, FESTIVAL)
    a = sold(order_id="00000000-0000-0000-0000-00000000000a", vip=2)
    b = sold(order_id="00000000-0000-0000-0000-00000000000b", camping=3)
    fresh = await issue_for_sales(engine, [a, before, b, a], signer, FESTIVAL)  # one issued before, one twice
    assert [s.order_id for s in fresh] == [a.order_id, b.order_id]
    issued = await all_tickets(engine)
    by_order = {o: [(t["ticket_id"], t["position"]) for t in issued if t["order_id"] == o]
                for o in (before.order_id, a.order_id, b.order_id)}
    assert by_order == {before.order_id: [("vip", 1)], a.order_id: [("vip", 1), ("vip", 2)],
                        b.order_id: [("camping", 1), ("camping", 2), ("camping", 3)]}
    assert len({t["code"] for t in issued}) == 6
    events_out = await outbox(engine)
    assert [e["subject"] for e in events_out] == [before.order_id, a.order_id, b.order_id]
    for event in events_out:
        assert sorted(t["code"] for t in event["data"]["tickets"]) == \
            sorted(t["code"] for t in issued if t["order_id"] == event["subject"])
    assert await issue_for_sales(engine, [a, b], signer, FESTIVAL) == []  # re-delivered: nothing twice
    assert len(await all_tickets(engine)) == 6 and len(await outbox(engine)) == 3


async def test_a_fetch_is_taken_in_order_sales_together_and_a_cancellation_after_the_sales_before_it(engine, signer):
    a, b = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
    sale_a = sample(events.ORDER_CONFIRMED, order_id=a, username="guest", email="guest@festflow.local",
                    items=[{"ticket_id": "vip", "name": "VIP", "quantity": 2, "unit_price_cents": 1000}])
    # b's sale as written before the rename (festflow.ticket.sold.v1), still on the topic: issued all the same
    sale_b = {**sale_a, "id": "another-event", "subject": b, "data": {**sale_a["data"], "order_id": b},
              "type": "festflow.ticket.sold.v1"}
    cancel_a = sample(events.ORDER_CANCELLED, order_id=a)
    seen_at_cancel = []

    async def cancel(cancelled):
        seen_at_cancel.append((cancelled.order_id, [t["order_id"] for t in await all_tickets(engine)]))
        await ticket_changes.void_order(engine, cancelled.order_id)

    rejected = sample(events.ORDER_REJECTED, order_id="00000000-0000-0000-0000-00000000000c")
    fresh = await issue_in_order(engine, [sale_a, rejected, cancel_a, sale_b], signer, FESTIVAL, cancel)
    assert [s.order_id for s in fresh] == [a, b]
    assert seen_at_cancel == [(a, [a, a])]  # the sale before the cancellation was issued first, b not yet
    assert {(t["order_id"], t["status"]) for t in await all_tickets(engine)} == {(a, "void"), (b, "valid")}
    assert await issue_in_order(engine, [sale_a, sale_b], signer, FESTIVAL, cancel) == []  # nothing twice


async def test_a_ticket_is_admitted_once_then_409_with_when_and_where(engine, signer):
    await issue_for_sale(engine, sold(), signer, FESTIVAL)
    ticket = (await all_tickets(engine))[0]
    first = await checkin.scan(engine, ticket["qr"], "North", signer, FESTIVAL)
    assert (first.status, first.result, first.ticket["code"]) == (200, "admitted", ticket["code"])
    again = await checkin.scan(engine, ticket["code"].lower(), "South", signer, FESTIVAL)  # typed by hand
    assert (again.status, again.result) == (409, "already_used")
    assert again.ticket["gate"] == "North" and "at gate North" in again.detail
    event = (await outbox(engine))[-1]
    assert event["type"] == events.TICKET_UPDATED and event["data"]["change"] == "checked_in"
    fixtures.record(event)


async def test_unknown_forged_other_festival_and_void_tickets_are_told_apart(engine, signer):
    await issue_for_sale(engine, sold(), signer, FESTIVAL)
    ticket = (await all_tickets(engine))[0]
    assert (await checkin.scan(engine, "ZZZZZZZZZZZZZZZZZZZZ", "North", signer, FESTIVAL)).status == 404
    forged = signer.sign(SignedTicket(ticket["code"], "vip", FESTIVAL)).replace(".", ".x", 2)
    assert (await checkin.scan(engine, forged, "North", signer, FESTIVAL)).status == 422
    other = signer.sign(SignedTicket(ticket["code"], "vip", "another-fest"))
    elsewhere = await checkin.scan(engine, other, "North", signer, FESTIVAL)
    assert elsewhere.detail == "this ticket is for another festival"
    async with engine.begin() as conn:
        await conn.execute(db.tickets.update().where(db.tickets.c.code == ticket["code"]).values(status="void"))
    void = await checkin.scan(engine, ticket["qr"], "North", signer, FESTIVAL)
    assert (void.status, void.result) == (410, "void")


async def test_fifty_gates_scanning_one_ticket_at_once_admit_it_exactly_once(engine, signer):
    await issue_for_sale(engine, sold(vip=1), signer, FESTIVAL)
    ticket = (await all_tickets(engine))[0]
    scans = await asyncio.gather(*(checkin.scan(engine, ticket["qr"], f"Gate {n % 5}", signer, FESTIVAL)
                                   for n in range(50)))
    assert sorted(s.status for s in scans) == [200] + [409] * 49


async def test_holders_and_the_check_in_count_per_type(engine, signer):
    await issue_for_sale(engine, sold(), signer, FESTIVAL)
    first, second, third = await all_tickets(engine)
    named = await ticket_changes.set_holder(engine, first["code"], "Ada Lovelace")
    assert named["holder"] == "Ada Lovelace"
    await checkin.scan(engine, second["qr"], "North", signer, FESTIVAL)
    assert await checkin.stats(engine) == [{"ticket_id": "camping", "name": "Camping", "issued": 1, "checked_in": 0},
                                           {"ticket_id": "vip", "name": "Vip", "issued": 2, "checked_in": 1}]


async def test_a_cancelled_orders_tickets_are_void_once_and_refused_at_the_gate(engine, signer):
    from festflow_contracts.messages import OrderCancelled
    cancelled = messages.parse(sample(events.ORDER_CANCELLED), OrderCancelled)  # the inventory's sample
    await issue_for_sale(engine, sold(order_id=cancelled.order_id), signer, FESTIVAL)
    assert await ticket_changes.void_order(engine, cancelled.order_id) == 3
    assert await ticket_changes.void_order(engine, cancelled.order_id) == 0  # redelivered: nothing more
    issued = await all_tickets(engine)
    assert {t["status"] for t in issued} == {"void"}
    assert (await checkin.scan(engine, issued[0]["qr"], "North", signer, FESTIVAL)).status == 410
    voids = [e for e in await outbox(engine) if e["type"] == events.TICKET_UPDATED]
    assert [e["data"]["change"] for e in voids] == ["void"] * 3


async def test_one_cancelled_ticket_of_three_is_void_and_the_others_still_admit(engine, signer):
    await issue_for_sale(engine, sold(), signer, FESTIVAL)
    first, second, third = await all_tickets(engine)
    assert await ticket_changes.void_order(engine, first["order_id"], [second["code"]]) == 1
    assert await ticket_changes.void_order(engine, first["order_id"], [second["code"]]) == 0  # redelivered
    assert [t["status"] for t in await all_tickets(engine)] == ["valid", "void", "valid"]
    assert (await checkin.scan(engine, second["qr"], "North", signer, FESTIVAL)).status == 410
    assert (await checkin.scan(engine, third["qr"], "North", signer, FESTIVAL)).status == 200


async def test_resending_mails_the_tickets_as_they_are_now(engine, signer):
    await issue_for_sale(engine, sold(), signer, FESTIVAL)
    first = (await all_tickets(engine))[0]
    await ticket_changes.set_holder(engine, first["code"], "Ada Lovelace")
    assert await resending.resend(engine, first["order_id"])
    assert not await resending.resend(engine, "no-such-order")
    event = (await outbox(engine))[-1]
    assert event["type"] == events.TICKETS_RESENT and event["data"]["tickets"][0]["holder"] == "Ada Lovelace"
    fixtures.record(event)


async def test_the_attendee_list_has_every_ticket_with_its_check_in(engine, signer):
    await issue_for_sale(engine, sold(), signer, FESTIVAL)
    first = (await all_tickets(engine))[0]
    await checkin.scan(engine, first["qr"], "North", signer, FESTIVAL)
    rows = await attendees.attendees(engine)
    assert len(rows) == 3 and set(rows[0]) == set(attendees.ATTENDEE_COLUMNS)
    assert [r["gate"] for r in rows if r["code"] == first["code"]] == ["North"]
