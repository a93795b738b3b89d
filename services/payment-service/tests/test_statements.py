"""Reading bank statements: CAMT.053, MT940 and CSV give the same credits; bad files are refused with why."""
import pytest

from festflow_contracts.payment_reference import creditor_reference
from payment_service.statements import StatementUnreadable, parse_statement

from .conftest import ANNA, BEN, statement


def test_a_camt053_statement_gives_its_booked_credits_with_the_banks_ids():
    kind, credits = parse_statement(statement("camt053.xml"))
    assert kind == "camt.053"
    assert [(c.amount_cents, c.currency, c.booked_on, c.payer) for c in credits] == [
        (17800, "EUR", "2026-12-07", "Anna Buyer"), (8900, "EUR", "2026-12-07", "Ben Buyer"),
        (5000, "EUR", "2026-12-07", "")]
    assert [c.entry_id for c in credits] == ["camt:2026120700001", "camt:2026120700003", "camt:2026120700004"]
    assert creditor_reference(BEN) in credits[1].text  # a structured reference counts as text too


def test_mt940_and_csv_give_the_same_credits():
    _, mt940 = parse_statement(statement("mt940.sta"))
    assert [(c.amount_cents, c.booked_on, c.payer) for c in mt940] == [(17800, "2026-12-07", "ANNA BUYER")]
    assert mt940[0].entry_id == "mt940:B2612070001"
    kind, rows = parse_statement(statement("statement.csv"))
    assert kind == "csv"
    assert [(c.amount_cents, c.currency, c.booked_on, c.payer) for c in rows] == [
        (17800, "EUR", "2026-12-07", "Anna Buyer"), (8900, "EUR", "2026-12-07", "Ben Buyer")]
    assert creditor_reference(ANNA).lower()[:4] in rows[0].text


def test_lines_without_the_banks_ids_get_the_same_ids_each_time_and_identical_lines_differ():
    data = b"date,amount,reference\n2026-12-07,10.00,gift\n2026-12-07,10.00,gift\n"
    first, again = parse_statement(data)[1], parse_statement(data)[1]
    assert [c.entry_id for c in first] == [c.entry_id for c in again]
    assert len({c.entry_id for c in first}) == 2


@pytest.mark.parametrize("data,reason", [
    (b"hello", "no bank statement"),
    (b"<Document><Other/></Document>", "no CAMT.053"),
    (b"<Document><BkToCstmrStmt>", "cannot be read"),
    (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><Document><BkToCstmrStmt>&a;</BkToCstmrStmt></Document>', "cannot be read"),
    (b"date,amount\n2026-12-07,10\n", "no text column"),
    (b"date;amount;reference\n2026-12-07;ten;x\n", "line 2: 'ten' is no amount"),
    (b"date;amount;reference\n2026-12-07;1,005;x\n", "more than two decimals"),
])
def test_a_file_that_is_no_statement_is_refused_with_the_reason(data, reason):
    with pytest.raises(StatementUnreadable, match=reason):
        parse_statement(data)
