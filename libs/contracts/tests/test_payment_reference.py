"""Payment references: ISO 11649 creditor references found in a statement's text as people write them."""
import pytest

from festflow_contracts.payment_reference import creditor_reference, find_references, is_valid, order_code, printed

ORDER = "0f0e0d0c-1111-2222-3333-444455556666"


def test_a_reference_is_rf_check_digits_and_the_orders_code_and_its_check_digits_hold():
    reference = creditor_reference(ORDER)
    assert reference.startswith("RF") and reference[4:] == order_code(ORDER) and len(reference) == 16
    assert is_valid(reference) and is_valid("RF18539007547034")  # ISO 11649's own example
    assert order_code(ORDER) != order_code("0f0e0d0c-1111-3222-3333-444455556666")  # within the first 60 bits
    assert not set(order_code(ORDER)) & set("ILOU")


@pytest.mark.parametrize("swap", range(4, 16))
def test_a_mistyped_sign_fails_the_check_digits(swap):
    reference = creditor_reference(ORDER)
    wrong = reference[:swap] + ("1" if reference[swap] != "1" else "2") + reference[swap + 1:]
    assert not is_valid(wrong)


@pytest.mark.parametrize("written", [
    "{ref}", "{lower}", "{printed}", "Tickets {printed_lower}, thank you!", "RF12 nonsense {printed}",
    "order:{ref}/2026", "SEPA-GUTSCHRIFT{ref}Tickets",
])
def test_a_reference_is_found_as_people_write_it(written):
    reference = creditor_reference(ORDER)
    text = written.format(ref=reference, lower=reference.lower(), printed=printed(reference),
                          printed_lower=printed(reference).lower())
    assert find_references(text) == [reference]


def test_no_reference_is_made_up():
    assert find_references("Festival tickets for Anna, order 0f0e0d0c") == []
    reference = creditor_reference(ORDER)
    assert find_references(reference[:-1] + ("X" if reference[-1] != "X" else "Y")) == []
