"""Invoices (unit): the PDF says the invoice's number, seller, buyer, lines and VAT per rate, adding up to the cent;
the read model keeps the number the inventory gave the sale."""
import io

import pypdf
import sqlalchemy as sa

from festflow_contracts import events
from festflow_contracts.fixtures import sample
from order_service import db
from order_service.bootstrap import status_projection
from order_service.invoices import credit_note_pdf, invoice_pdf, totals_by_rate, vat_split
from order_service.ordering import Limits
from order_service.views import order_view

ITEMS = [{"ticket_id": "vip", "name": "VIP Weekend", "quantity": 2, "unit_price_cents": 24900, "vat_rate_bp": 700},
         {"ticket_id": "camp", "name": "Camping Pass", "quantity": 1, "unit_price_cents": 4500, "vat_rate_bp": 1900}]


def test_vat_is_worked_out_per_rate_on_gross_prices_and_adds_up_to_the_cent():
    assert vat_split(11900, 1900) == (10000, 1900)
    assert vat_split(4500, 1900) == (3782, 718)
    assert vat_split(4500, 0) == (4500, 0)
    assert totals_by_rate(ITEMS) == [(1900, 3782, 718, 4500), (700, 46542, 3258, 49800)]
    assert all(net + vat == gross for _, net, vat, gross in totals_by_rate(ITEMS))


def test_the_invoice_pdf_names_its_number_seller_buyer_lines_and_vat():
    order = {"order_id": "0f0e0d0c-1111-2222-3333-444455556666", "invoice_number": "INV-000042", "items": ITEMS,
             "total_cents": 54300, "updated_at": "2027-03-01T10:00:00.000Z",
             "payment": {"method": "bank_transfer"}}
    seller = {"name": "Riverfest", "beneficiary": "Riverfest GmbH", "seller_address": "1 Festival Way, Springfield",
              "vat_id": "DE123456789", "starts_on": "2027-07-16", "ends_on": "2027-07-18"}
    pdf = invoice_pdf(order, {"username": "anna", "email": "anna@example.org"}, seller)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    assert reader.metadata.title == "Invoice INV-000042"
    for expected in ("Invoice INV-000042", "Riverfest GmbH", "VAT id DE123456789", "anna <anna@example.org>",
                     "VIP Weekend", "7 %", "19 %", "net €465.42 + VAT €32.58 = €498.00",
                     "net €37.82 + VAT €7.18 = €45.00", "Total (VAT included): €543.00", "Paid.",
                     "01 Mar 2027"):
        assert expected in text, expected


async def test_the_read_model_keeps_the_invoice_number_and_the_seller_of_the_sale(engine):
    async with engine.begin() as conn:
        await conn.execute(db.orders.insert().values(
            order_id="o1", username="guest", idempotency_key="k", request_hash="h", status="PENDING", items=[],
            created_at="2027-03-01T10:00:00Z", updated_at="2027-03-01T10:00:00Z"))
    sold = sample(events.ORDER_CONFIRMED, order_id="o1", invoice_number="INV-000007")
    sold["data"]["festival"] |= {"seller": "Riverfest GmbH", "vat_id": "DE123456789"}
    await status_projection(engine, Limits()).apply(sold)
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(db.orders.c.invoice_number, db.orders.c.seller))).one()
    assert row.invoice_number == "INV-000007"
    assert row.seller["seller"] == "Riverfest GmbH" and row.seller["vat_id"] == "DE123456789"  # as at the sale


async def test_a_cancellation_of_something_paid_gets_a_credit_note_that_corrects_the_invoice(engine):
    async with engine.begin() as conn:
        await conn.execute(db.orders.insert().values(
            order_id="o1", username="guest", idempotency_key="k", request_hash="h", status="PENDING", items=[],
            created_at="2027-03-01T10:00:00Z", updated_at="2027-03-01T10:00:00Z"))
    projection = status_projection(engine, Limits())
    await projection.apply(sample(events.ORDER_CONFIRMED, order_id="o1", invoice_number="INV-000042", items=ITEMS,
                                  total_cents=54300))
    part = sample(events.ORDER_CANCELLED, order_id="o1", codes=["CODE-1"], refund_cents=24900, reason="one cannot come",
                  credit_note_number="CN-000003", items=[{**ITEMS[0], "quantity": 1}])
    await projection.apply(part)
    await projection.apply(part)  # heard twice: one credit note
    async with engine.connect() as conn:
        row = dict((await conn.execute(sa.select(db.orders))).mappings().one())
    [note] = row["credit_notes"]
    assert note["number"] == "CN-000003" and note["amount_cents"] == 24900 and note["codes"] == ["CODE-1"]
    view = order_view(row)
    assert view["credit_notes"] == [{"number": "CN-000003", "amount_cents": 24900,
                                     "url": "/api/orders/o1/credit-notes/CN-000003.pdf"}]
    pdf = credit_note_pdf(row, note, {"username": "guest", "email": ""}, {"name": "Riverfest", "seller": "Riverfest"})
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    assert reader.metadata.title == "Credit note CN-000003"
    for expected in ("Corrects invoice INV-000042", "VIP Weekend", "7 %", "-€249.00",
                     "net -€232.71 + VAT -€16.29 = -€249.00", "Total (VAT included): -€249.00",
                     "tickets CODE-1", "refunded to the buyer"):
        assert expected in text, expected
