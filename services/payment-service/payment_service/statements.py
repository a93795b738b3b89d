"""Bank statements as the organiser's bank gives them: CAMT.053 (ISO 20022 XML, any version), MT940 (SWIFT)
or CSV. Only credits (money in) matter; each becomes a `Credit` with the bank's own id for the entry, or, when
the bank gives none, a fingerprint of its fields and its place among identical lines, so the same statement
imported twice yields the same ids and pays nothing twice, while two identical payments in it both count.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element

import mt940
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException


class StatementUnreadable(Exception):
    """The file is none of the formats, or one with a flaw; the message says which and where."""


@dataclass(frozen=True)
class Credit:
    entry_id: str  # the bank's id of the entry, or a fingerprint (see above)
    amount_cents: int
    currency: str
    booked_on: str  # ISO date
    text: str  # the remittance information: where a buyer writes the payment reference
    payer: str
    payer_iban: str = ""  # the account it came from, when the statement names it (where a refund goes)


def parse_statement(data: bytes) -> tuple[str, list[Credit]]:
    """("camt.053" | "mt940" | "csv", the statement's credits), or StatementUnreadable with the reason."""
    text = _decoded(data)
    head = text.lstrip()[:400]
    if head.startswith("<"):
        return "camt.053", _camt053(data)
    if re.search(r"^:20:", head, re.M) or head.startswith("{1:"):
        return "mt940", _mt940(text)
    if "," in head or ";" in head:
        return "csv", _csv(text)
    raise StatementUnreadable("this is no bank statement FestFlow reads: send CAMT.053 (XML), MT940 or CSV")


def _decoded(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise StatementUnreadable("the file is not text")


def _cents(amount: str | Decimal, where: str) -> int:
    text = str(amount).strip().replace(" ", "").replace("\u00a0", "")
    if isinstance(amount, str) and "," in text:  # "1.234,56" (European) or "1,234.56"
        text = text.replace(".", "").replace(",", ".") if text.rfind(",") > text.rfind(".") else text.replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise StatementUnreadable(f"{where}: {amount!r} is no amount") from None
    cents = value * 100
    if cents != cents.to_integral_value():
        raise StatementUnreadable(f"{where}: {amount!r} has more than two decimals")
    return int(cents)


def _fingerprinted(kind: str, credits: list[tuple[str | None, int, str, str, str, str, str]]) -> list[Credit]:
    """Credits, with the bank's id where it gave one, else a fingerprint of the fields (the payer's account
    aside) and their place among identical lines."""
    seen: Counter[tuple] = Counter()
    out = []
    for bank_id, cents, currency, booked, text, payer, iban in credits:
        fields = (cents, currency, booked, text, payer)
        seen[fields] += 1
        entry = bank_id or kind + ":" + hashlib.sha256(repr((*fields, seen[fields])).encode()).hexdigest()[:32]
        out.append(Credit(entry, cents, currency.upper(), booked, text.strip(), payer.strip(), _iban(iban)))
    return out


def _iban(text: str) -> str:
    compact = re.sub(r"\s", "", text or "").upper()
    return compact if re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", compact) else ""


# --- CAMT.053: entries (Ntry) with their amount, credit/debit mark, booking date and remittance ---

def _local(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _find(element: Element, *path: str) -> Element | None:
    """The first descendant along `path` of local names (any namespace, any version of the schema)."""
    current = [element]
    for name in path:
        current = [child for node in current for child in node.iter() if _local(child) == name and child is not node]
        if not current:
            return None
    return current[0]


def _texts(element: Element, name: str) -> list[str]:
    return [(child.text or "").strip() for child in element.iter() if _local(child) == name and child.text]


def _camt053(data: bytes) -> list[Credit]:
    try:
        root = ElementTree.fromstring(data)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise StatementUnreadable(f"the XML cannot be read: {exc}") from None
    if not any(_local(node) == "BkToCstmrStmt" for node in root.iter()):
        raise StatementUnreadable("this XML is no CAMT.053 statement (no BkToCstmrStmt)")
    credits = []
    for number, entry in enumerate((n for n in root.iter() if _local(n) == "Ntry"), start=1):
        mark = _find(entry, "CdtDbtInd")
        if mark is None or (mark.text or "").strip() != "CRDT":
            continue
        if (status := _find(entry, "Sts")) is not None and "".join(status.itertext()).strip() not in ("BOOK", ""):
            continue  # a pending entry is not money in yet
        amount = _find(entry, "Amt")
        if amount is None or not amount.text:
            raise StatementUnreadable(f"entry {number}: no amount")
        booked = _find(entry, "BookgDt")
        day = "".join(booked.itertext()).strip()[:10] if booked is not None else ""
        remittance = " ".join(_texts(entry, "Ustrd") + _texts(entry, "Ref"))
        debtor = _find(entry, "Dbtr")
        payer = (_texts(debtor, "Nm") or [""])[0] if debtor is not None else ""
        account = _find(entry, "DbtrAcct")
        iban = (_texts(account, "IBAN") or [""])[0] if account is not None else ""
        bank_id = (_texts(entry, "AcctSvcrRef") or _texts(entry, "NtryRef") or [""])[0]
        credits.append((f"camt:{bank_id}" if bank_id else None, _cents(amount.text, f"entry {number}"),
                        amount.get("Ccy", "EUR"), day, remittance, payer, iban))
    return _fingerprinted("camt", credits)


# --- MT940 ---

def _mt940(text: str) -> list[Credit]:
    transactions = mt940.models.Transactions()
    try:
        transactions.parse(text)
    except Exception as exc:  # the library raises many kinds for a malformed file
        raise StatementUnreadable(f"the MT940 statement cannot be read: {exc}") from None
    credits = []
    for transaction in transactions:
        data = transaction.data
        if data.get("status") not in ("C", "RD"):  # credits, and reversals of debits
            continue
        amount = data["amount"]
        booked = data.get("date")
        text = " ".join(str(data.get(key) or "") for key in ("purpose", "transaction_details", "extra_details")
                        if data.get(key))
        bank_id = data.get("bank_reference")
        payer = str(data.get("applicant_name") or "")
        credits.append((f"mt940:{bank_id}" if bank_id else None, _cents(amount.amount, "MT940"),
                        amount.currency, booked.isoformat() if booked else "", text, payer,
                        str(data.get("applicant_iban") or "")))
    return _fingerprinted("mt940", credits)


# --- CSV: a header row names the columns (any order, a few names each) ---

COLUMNS = {
    "amount": ("amount", "betrag", "credit", "value"),
    "date": ("date", "booking date", "booked", "buchungstag", "value date"),
    "text": ("reference", "remittance", "remittance information", "purpose", "description", "verwendungszweck",
             "details"),
    "currency": ("currency", "ccy", "währung"),
    "payer": ("name", "payer", "debtor", "counterparty", "auftraggeber"),
    "id": ("id", "transaction id", "entry id", "bank reference"),
    "iban": ("iban", "payer iban", "debtor iban", "counterparty iban", "iban auftraggeber"),
}


def _csv(text: str) -> list[Credit]:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        raise StatementUnreadable("the CSV's columns cannot be told apart (use , or ; between them)") from None
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        raise StatementUnreadable("the CSV is empty")
    header = [cell.strip().lower() for cell in rows[0]]
    where = {name: next((header.index(alias) for alias in aliases if alias in header), None)
             for name, aliases in COLUMNS.items()}
    missing = [name for name in ("amount", "text") if where[name] is None]
    if missing:
        raise StatementUnreadable(f"the CSV's header names no {' and no '.join(missing)} column "
                                  f"(for example: date, amount, currency, reference, name)")
    credits = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(value.strip() for value in row):
            continue
        cell = {name: row[index].strip() if index is not None and index < len(row) else ""
                for name, index in where.items()}
        cents = _cents(cell["amount"], f"line {line}")
        if cents <= 0:
            continue  # money out
        credits.append((f"csv:{cell['id']}" if cell["id"] else None, cents, cell["currency"] or "EUR",
                        _iso_day(cell["date"]), cell["text"], cell["payer"], cell["iban"]))
    return _fingerprinted("csv", credits)


def _iso_day(text: str) -> str:
    for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d.%m.%y"):
        try:
            return datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    return text or date.today().isoformat()
