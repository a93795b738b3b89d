"""The payment service through the gateway: the organiser imports bank statements; a credit nobody awaits is
left for review, with its reason (test_holds.py pays held orders with them)."""
import httpx

from e2e_helpers import bearer


def test_an_organiser_imports_a_statement_and_the_same_again_pays_nothing_twice(api, admin_token):
    statement = (b"Date;Amount;Currency;Reference;Name\n07.12.2026;89,00;EUR;Tickets RF18 5390 0754 7034;Anna\n"
                 b"07.12.2026;-1,50;EUR;fee;Bank\n")
    files = {"file": ("statement.csv", statement, "text/csv")}
    assert api.post("/api/admin/payments/bank-statements", files=files).status_code == 401
    first = api.post("/api/admin/payments/bank-statements", files=files, headers=bearer(admin_token))
    assert first.status_code == 200, first.text
    assert first.json()["format"] == "csv" and first.json()["duplicates"] == 0
    assert first.json()["unmatched"] == 1 and first.json()["matched"] == 0
    again = api.post("/api/admin/payments/bank-statements", files=files, headers=bearer(admin_token))
    assert again.json()["duplicates"] == 1 and again.json()["unmatched"] == 0
    review = api.get("/api/admin/payments/review", headers=bearer(admin_token)).json()
    assert any(line["reason"] == "nobody awaits RF18539007547034" for line in review)


def test_a_file_that_is_no_statement_is_refused_with_the_reason(api, admin_token):
    resp = api.post("/api/admin/payments/bank-statements", headers=bearer(admin_token),
                    files={"file": ("notes.txt", b"buy milk", "text/plain")})
    assert resp.status_code == 422 and "no bank statement" in resp.json()["detail"]


def test_a_large_statement_passes_the_gateway(gateway, admin_token):
    """The gateway takes bodies up to 64 KiB elsewhere; a statement may be megabytes."""
    lines = "".join(f"2026-12-07,{n % 97 + 1}.00,EUR,gift {n},Payer {n}\n" for n in range(40_000))
    data = ("date,amount,currency,reference,name\n" + lines).encode()
    assert len(data) > 1_000_000
    with httpx.Client(base_url=gateway, timeout=60) as client:
        resp = client.post("/api/admin/payments/bank-statements", headers=bearer(admin_token),
                           files={"file": ("big.csv", data, "text/csv")})
    assert resp.status_code == 200 and resp.json()["unmatched"] == 40_000


def test_the_organiser_imports_a_statement_on_the_payments_page(page):
    from playwright.sync_api import expect
    from test_browser import log_in
    log_in(page, "admin", "admin123")
    page.goto("/admin/payments")
    statement = b"date,amount,currency,reference,name\n2026-12-07,12.34,EUR,a gift from the page test,Page Tester\n"
    page.get_by_label("Bank statement (CAMT.053, MT940 or CSV)").set_input_files(
        files=[{"name": "statement.csv", "mimeType": "text/csv", "buffer": statement}])
    page.get_by_role("button", name="IMPORT STATEMENT").click()
    expect(page.locator("#admin-payments .admin_message")).to_contain_text("CSV imported: 0 paid an order")
    expect(page.locator("#admin-payments .admin_review")).to_contain_text("Page Tester")
    page.get_by_role("button", name="IMPORT STATEMENT").click()  # no file chosen any more
    expect(page.locator("#admin-payments .admin_error")).to_contain_text("Choose the bank statement file first")
