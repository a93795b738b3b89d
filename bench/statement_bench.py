"""A bank statement of N credits imported by the payment service (its service layer, on a fresh SQLite file):
N orders await a transfer, the statement (CAMT.053 or CSV) pays each by its reference written as people
write it; every order must be paid once, and importing the same statement again must pay nothing.

`python bench/statement_bench.py [--lines N] [--format camt|csv]` prints the time of both imports.
Target: a 10,000-line statement imported in 10 s or less.
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid

from festflow_contracts.payment_reference import creditor_reference, printed
from payment_service import db
from payment_service.bank_transfers import expect_payment, import_statement


def camt(orders: list[str]) -> bytes:
    entries = "".join(
        f"<Ntry><Amt Ccy=\"EUR\">89.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
        f"<BookgDt><Dt>2026-12-07</Dt></BookgDt><AcctSvcrRef>B{n:08d}</AcctSvcrRef><NtryDtls><TxDtls>"
        f"<RltdPties><Dbtr><Nm>Buyer {n}</Nm></Dbtr></RltdPties><RmtInf><Ustrd>Tickets "
        f"{printed(creditor_reference(order)).lower()}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        for n, order in enumerate(orders))
    return (f'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>'
            f"<Stmt>{entries}</Stmt></BkToCstmrStmt></Document>").encode()


def csv(orders: list[str]) -> bytes:
    return ("date,amount,currency,reference,name\n" + "".join(
        f"2026-12-07,89.00,EUR,Tickets {printed(creditor_reference(order))},Buyer {n}\n"
        for n, order in enumerate(orders))).encode()


async def main(lines: int, kind: str) -> None:
    orders = [str(uuid.uuid4()) for _ in range(lines)]
    with tempfile.TemporaryDirectory() as folder:
        engine = db.make_engine(f"sqlite+aiosqlite:///{folder}/payments.db")
        await db.create_schema(engine)
        for order in orders:
            await expect_payment(engine, order, 8900, "EUR", "2026-12-12T23:59:59Z")
        data = camt(orders) if kind == "camt" else csv(orders)
        started = time.perf_counter()
        first = await import_statement(engine, data)
        took = time.perf_counter() - started
        started = time.perf_counter()
        again = await import_statement(engine, data)
        took_again = time.perf_counter() - started
        await engine.dispose()
    if len(first.matched) != lines or set(first.matched) != set(orders) or again.duplicates != lines or again.matched:
        raise SystemExit(f"wrong result: {len(first.matched)} paid, {again.duplicates} read again")
    print(f"{kind}, {lines} lines ({len(data) / 1e6:.1f} MB): imported in {took:.2f} s ({lines / took:,.0f} lines/s), "
          f"every order paid once; the same statement again in {took_again:.2f} s, nothing paid twice")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--format", choices=("camt", "csv"), default="camt")
    args = parser.parse_args()
    asyncio.run(main(args.lines, args.format))
