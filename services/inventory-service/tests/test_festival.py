"""The festival's details and the ticket types' presentation and sale windows (service layer, real DB)."""
import json
import uuid

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from festflow_contracts import events, fixtures
from inventory_service import db, festival
from inventory_service.reservation import parse_command, place_order
from inventory_service.ticket_admin import TicketCreate, TicketError, TicketPatch, create_ticket, update_ticket

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def catalog_events(engine):
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(db.outbox.c.payload).where(db.outbox.c.topic == "festflow.catalog-events")
                                   .order_by(db.outbox.c.seq))).scalars().all()
    return [json.loads(row) for row in rows]


def order(ticket_id, quantity=1):
    return parse_command({"type": events.PLACE_ORDER, "data": {
        "order_id": str(uuid.uuid4()), "username": "guest", "email": "g@x",
        "items": [{"ticket_id": ticket_id, "quantity": quantity}]}})


async def test_an_edit_of_the_festival_is_kept_and_announced_whole(engine):
    details = await festival.update(engine, festival.FestivalPatch(name="Riverfest 2027", venue="The Meadows",
                                                                   starts_on="2027-08-01", ends_on="2027-08-03"))
    assert details["name"] == "Riverfest 2027" and details["venue"] == "The Meadows"
    assert details["address"].startswith("Riverside Park")  # left out: kept
    [event] = await catalog_events(engine)
    assert event["type"] == events.FESTIVAL_CHANGED and event["data"]["version"] == details["version"] == 2
    assert event["data"]["name"] == "Riverfest 2027" and event["data"]["ends_on"] == "2027-08-03"
    fixtures.record(event)  # the sample the catalogs' tests apply


@pytest.mark.parametrize("fields,reason", [
    ({"name": "  "}, "name must not be empty"),
    ({"starts_on": "16/07/2027"}, "a date like 2027-07-16"),
    ({"starts_on": "2027-07-18", "ends_on": "2027-07-16"}, "cannot end before it starts"),
    ({"venue": "x" * 121}, "at most 120"),
    ({"description": "bell \x07"}, "must be plain text"),
    ({"iban": "DE89 3704 0044 0532 0130 01"}, "iban: not a valid IBAN"),
    ({"bic": "NOTABIC"}, "bic: not a valid BIC"),
    ({"iban": "DE89370400440532013000", "bic": "DEUTDEFF"}, "bic: the IBAN's bank is COBADEFFXXX"),
    ({"payment_hold_minutes": 0}, "greater than or equal to 1"),
    ({"payment_hold_minutes": "ten"}, "a whole number"),
    ({"bank_transfer_days": 31}, "less than or equal to 30"),
    ({"beneficiary": "x" * 71}, "at most 70"),
    ({"vat_id": "DE 123-456"}, "vat_id: letters and digits only"),
])
def test_bad_festival_details_say_what_is_wrong(fields, reason):
    with pytest.raises(ValidationError, match=reason):
        festival.FestivalPatch(**fields)


async def test_payments_and_the_seller_are_kept_normalised_and_announced(engine):
    async with engine.connect() as conn:
        assert (await festival.load(conn))["payment_hold_minutes"] == 15  # the defaults
    details = await festival.update(engine, festival.FestivalPatch(
        payment_hold_minutes="20", card_payments="on", bank_transfer_days=3, late_payment_days="7",
        iban="de89 3704 0044 0532 0130 00", bic="cobadeffxxx",
        beneficiary="Riverfest GmbH", vat_id="de 123456789", seller_address="1 Festival Way, Springfield"))
    assert {k: details[k] for k in festival.PAYMENT_FIELDS} == {
        "payment_hold_minutes": 20, "card_payments": True, "bank_transfer_days": 3, "late_payment_days": 7,
        "iban": "DE89370400440532013000", "bic": "COBADEFFXXX",
        "beneficiary": "Riverfest GmbH", "vat_id": "DE123456789", "seller_address": "1 Festival Way, Springfield"}
    assert details["name"] == "FestFlow Summer Festival"  # left out: kept
    [event] = await catalog_events(engine)
    assert event["data"]["iban"] == "DE89370400440532013000" and event["data"]["payment_hold_minutes"] == 20
    cleared = await festival.update(engine, festival.FestivalPatch(iban="", bic=""))
    assert (cleared["iban"], cleared["bic"], cleared["beneficiary"]) == ("", "", "Riverfest GmbH")


async def test_an_end_date_before_the_kept_start_date_is_refused(engine):
    with pytest.raises(festival.FestivalError, match="cannot end before it starts"):
        await festival.update(engine, festival.FestivalPatch(ends_on="2027-07-01"))  # seeded start: 2027-07-16


async def test_a_banner_must_be_an_image_of_at_most_2_mb(engine):
    with pytest.raises(festival.FestivalError, match="PNG, JPEG, GIF or WebP") as refused:
        await festival.set_banner(engine, b"<svg onload=alert(1)>")
    assert refused.value.status == 415
    with pytest.raises(festival.FestivalError, match="at most 2 MB"):
        await festival.set_banner(engine, PNG + b"\x00" * festival.MAX_BANNER_BYTES)
    details = await festival.set_banner(engine, PNG)
    assert details["banner_version"] == 1
    assert await festival.banner(engine) == (PNG, "image/png")
    assert (await festival.set_banner(engine, b""))["banner_version"] == 0
    assert await festival.banner(engine) is None


async def test_a_sale_carries_the_festival_it_is_for_and_who_sells(engine):
    await festival.update(engine, festival.FestivalPatch(beneficiary="Riverfest GmbH", vat_id="DE123456789",
                                                         seller_address="1 Festival Way, Springfield"))
    outcome = await place_order(engine, order("vip-weekend"))
    assert outcome.event["data"]["festival"] == {
        "name": "FestFlow Summer Festival", "starts_on": "2027-07-16", "ends_on": "2027-07-18",
        "venue": "Riverside Park", "address": "Riverside Park, 1 Festival Way, Springfield",
        "seller": "Riverfest GmbH", "seller_address": "1 Festival Way, Springfield", "vat_id": "DE123456789"}


async def test_a_ticket_type_has_a_description_and_a_sale_window(engine):
    ticket = await create_ticket(engine, TicketCreate(name="Early Bird", price="39", stock=10,
                                                      description="Entry on all days.\nLimited.",
                                                      sale_starts_at="2020-01-01T09:00+01:00",
                                                      sale_ends_at="2099-01-01T00:00"))
    assert ticket["description"] == "Entry on all days.\nLimited."
    assert ticket["sale_starts_at"] == "2020-01-01T08:00Z" and ticket["sale_ends_at"] == "2099-01-01T00:00Z"
    [event] = await catalog_events(engine)
    assert event["data"]["sale_ends_at"] == "2099-01-01T00:00Z" and event["data"]["description"].startswith("Entry")
    cleared = await update_ticket(engine, ticket["id"], TicketPatch(sale_ends_at="", description=""))
    assert cleared["sale_ends_at"] is None and cleared["description"] == ""
    with pytest.raises(TicketError, match="sales must end after they start"):
        await update_ticket(engine, ticket["id"], TicketPatch(sale_ends_at="2019-12-31T00:00Z"))
    with pytest.raises(ValidationError, match="a date and time like"):
        TicketPatch(sale_starts_at="next tuesday")


async def test_an_order_outside_its_sale_window_is_rejected_and_takes_no_stock(engine):
    await update_ticket(engine, "vip-weekend", TicketPatch(sale_starts_at="2099-03-01T10:00Z"))
    early = await place_order(engine, order("vip-weekend", 2))
    assert early.status == "REJECTED" and early.reason == "sales for VIP Weekend open at 01 Mar 2099 10:00 UTC"
    await update_ticket(engine, "vip-weekend", TicketPatch(sale_starts_at="", sale_ends_at="2020-01-01T00:00Z"))
    late = await place_order(engine, order("vip-weekend", 2))
    assert late.status == "REJECTED" and "sales for VIP Weekend ended" in late.reason
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(db.tickets.c.stock).where(db.tickets.c.id == "vip-weekend")) == 50
