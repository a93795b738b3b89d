"""The festival's details, edited by the organiser: name, dates, venue, address, description and a banner;
how buyers pay (how long an unpaid order holds its tickets, how long a bank transfer may take, the account
they pay into: IBAN and BIC validated with schwifty) and who sells (beneficiary, VAT id, seller address).

Each change is one transaction that also writes a FESTIVAL_CHANGED event (the whole of the details, with
a rising version) to the outbox, so every catalog hears of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.channels import CATALOG_EVENTS_TOPIC
from festflow_contracts.messages import FestivalChanged, FestivalSummary, PayTo
from festflow_runtime.text import plain_text
from inventory_service.db import festival, outbox

SOURCE = "/festflow/inventory-service"
MAX_BANNER_BYTES = 2 * 1024 * 1024
# what a banner's first bytes must be, by type (the upload's own content type is not trusted)
IMAGE_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff", "image/gif": b"GIF8"}


class FestivalError(Exception):
    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail


def _text(value: str, field: str, limit: int, required: bool = False) -> str:
    try:
        value = plain_text(value, multiline=field == "description").strip()
    except ValueError:
        raise ValueError(f"{field} must be plain text (it contains an invalid character)") from None
    if required and not value:
        raise ValueError(f"{field} must not be empty")
    if len(value) > limit:
        raise ValueError(f"{field} is too long (at most {limit} characters)")
    return value


class FestivalPatch(BaseModel):
    """Any of the details; what is left out stays as it is. Dates as YYYY-MM-DD ("" clears them)."""
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=400)
    starts_on: str | None = None
    ends_on: str | None = None
    venue: str | None = Field(default=None, max_length=400)
    address: str | None = Field(default=None, max_length=800)
    description: str | None = Field(default=None, max_length=8000)
    payment_hold_minutes: int | None = Field(default=None, ge=1, le=120)
    card_payments: bool | None = None
    bank_transfer_days: int | None = Field(default=None, ge=1, le=30)
    late_payment_days: int | None = Field(default=None, ge=0, le=60)
    iban: str | None = Field(default=None, max_length=100)
    bic: str | None = Field(default=None, max_length=100)
    beneficiary: str | None = Field(default=None, max_length=400)
    vat_id: str | None = Field(default=None, max_length=100)
    seller_address: str | None = Field(default=None, max_length=800)

    @field_validator("payment_hold_minutes", "bank_transfer_days", "late_payment_days", mode="before")
    @classmethod
    def _whole_number(cls, v: object) -> object:
        if isinstance(v, str):  # a form sends text
            if not v.strip().isdigit():
                raise ValueError("a whole number")
            return int(v.strip())
        return v

    @field_validator("card_payments", mode="before")
    @classmethod
    def _switch(cls, v: object) -> object:
        if isinstance(v, str):  # a form's checkbox: "on" when ticked, "" (or nothing) when not
            if v.strip().lower() not in ("", "on", "true", "false"):
                raise ValueError("card_payments: true or false")
            return v.strip().lower() in ("on", "true")
        return v

    @field_validator("iban", "bic")
    @classmethod
    def _account(cls, v: str | None, info: ValidationInfo) -> str | None:
        """An IBAN or a BIC as schwifty reads it, without spaces, in capitals ("" takes it away)."""
        if v is None or not v.strip():
            return None if v is None else ""
        field = str(info.field_name)
        try:
            return (IBAN(v) if field == "iban" else BIC(v)).compact
        except SchwiftyException as exc:
            raise ValueError(f"{field}: not a valid {field.upper()} ({exc})") from None

    @field_validator("beneficiary")
    @classmethod
    def _beneficiary(cls, v: str | None) -> str | None:
        return None if v is None else _text(v, "beneficiary", 70)  # an EPC QR code holds 70

    @field_validator("vat_id")
    @classmethod
    def _vat_id(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = _text(v, "vat_id", 20).replace(" ", "").upper()
        if v and not v.isalnum():
            raise ValueError("vat_id: letters and digits only, like DE123456789")
        return v

    @field_validator("seller_address")
    @classmethod
    def _seller_address(cls, v: str | None) -> str | None:
        return None if v is None else _text(v, "seller_address", 200)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return None if v is None else _text(v, "name", 120, required=True)

    @field_validator("venue")
    @classmethod
    def _venue(cls, v: str | None) -> str | None:
        return None if v is None else _text(v, "venue", 120)

    @field_validator("address")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        return None if v is None else _text(v, "address", 200)

    @field_validator("description")
    @classmethod
    def _description(cls, v: str | None) -> str | None:
        return None if v is None else _text(v, "description", 2000)

    @field_validator("starts_on", "ends_on")
    @classmethod
    def _date(cls, v: str | None) -> str | None:
        if v is None or v.strip() == "":
            return None if v is None else ""
        try:
            return date.fromisoformat(v.strip()).isoformat()
        except ValueError:
            raise ValueError("a date like 2027-07-16") from None

    @model_validator(mode="after")
    def _order(self) -> FestivalPatch:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on: the festival cannot end before it starts")
        if self.iban and self.bic and IBAN(self.iban).bic is not None and IBAN(self.iban).bic != BIC(self.bic):
            raise ValueError(f"bic: the IBAN's bank is {IBAN(self.iban).bic}, not {self.bic}")
        return self


PAYMENT_FIELDS = ("payment_hold_minutes", "card_payments", "bank_transfer_days", "late_payment_days", "iban", "bic",
                  "beneficiary",
                  "vat_id", "seller_address")


def festival_view(row: Any) -> dict[str, Any]:
    return {"name": row["name"], "starts_on": row["starts_on"], "ends_on": row["ends_on"], "venue": row["venue"],
            "address": row["address"], "description": row["description"],
            "banner_version": row["banner_version"], "version": row["version"]} | {
        field: row[field] for field in PAYMENT_FIELDS}


async def load(conn: AsyncConnection) -> dict[str, Any]:
    row = (await conn.execute(sa.select(festival).where(festival.c.id == 1))).mappings().first()
    if row is None:
        raise FestivalError(404, "no festival yet")
    return festival_view(row)


async def summary(conn: AsyncConnection) -> FestivalSummary | None:
    """What a sold ticket is for, as the sale's event carries it."""
    return (await sale_terms(conn))[0]


@dataclass(frozen=True)
class PaymentTerms:
    """How the festival's orders are paid: an order with something to pay holds its stock until paid, for
    `hold_minutes` where buyers may pay by card (`card`), else for `transfer_days` (bank transfer into
    `pay_to`); a card hold the buyer turns into a transfer lasts `transfer_days` from the order. Taking neither
    (no account to pay into, no cards) the festival takes no payment through FestFlow: orders are sold at
    once."""
    hold_minutes: int = 15
    transfer_days: int = 5
    pay_to: PayTo | None = None
    late_days: int = 14  # a payment up to this many days after the deadline still reinstates its order
    card: bool = False

    @property
    def takes_payment(self) -> bool:
        return self.card or self.pay_to is not None


async def sale_terms(conn: AsyncConnection) -> tuple[FestivalSummary | None, PaymentTerms]:
    """What a sold ticket is for (as the sale's event carries it), and how an order is paid."""
    row = (await conn.execute(sa.select(festival.c.name, festival.c.starts_on, festival.c.ends_on, festival.c.venue,
                                        festival.c.address, festival.c.payment_hold_minutes, festival.c.card_payments,
                                        festival.c.bank_transfer_days, festival.c.late_payment_days,
                                        festival.c.iban, festival.c.bic,
                                        festival.c.beneficiary, festival.c.seller_address, festival.c.vat_id)
                               .where(festival.c.id == 1))).mappings().first()
    if row is None:
        return None, PaymentTerms()
    pay_to = PayTo(iban=row["iban"], bic=row["bic"], beneficiary=row["beneficiary"]) if row["iban"] else None
    return (FestivalSummary(name=row["name"], starts_on=row["starts_on"], ends_on=row["ends_on"], venue=row["venue"],
                            address=row["address"], seller=row["beneficiary"], seller_address=row["seller_address"],
                            vat_id=row["vat_id"]),
            PaymentTerms(row["payment_hold_minutes"], row["bank_transfer_days"], pay_to,
                         row["late_payment_days"], bool(row["card_payments"])))


async def _announce(conn: AsyncConnection, details: dict[str, Any]) -> None:
    event = messages.envelope(FestivalChanged(**details), SOURCE, subject="festival")
    await conn.execute(outbox.insert().values(event_id=event["id"], topic=CATALOG_EVENTS_TOPIC, key="festival",
                                              payload=events.encode(event).decode()))


async def update(engine: AsyncEngine, patch: FestivalPatch) -> dict[str, Any]:
    values = patch.model_dump(exclude_none=True)
    if not values:
        raise FestivalError(422, "nothing to change: give name, starts_on, ends_on, venue, address, description, "
                                 + ", ".join(PAYMENT_FIELDS))
    async with engine.begin() as conn:
        current = await load(conn)
        merged = {**current, **values}
        if merged["starts_on"] and merged["ends_on"] and merged["ends_on"] < merged["starts_on"]:
            raise FestivalError(422, "ends_on: the festival cannot end before it starts")
        await conn.execute(festival.update().where(festival.c.id == 1)
                           .values(**values, version=festival.c.version + 1))
        details = await load(conn)
        await _announce(conn, details)
    return details


def image_type(data: bytes) -> str | None:
    for kind, magic in IMAGE_MAGIC.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def set_banner(engine: AsyncEngine, data: bytes) -> dict[str, Any]:
    """A new banner image (PNG, JPEG, GIF or WebP, at most 2 MB), or none with empty data."""
    if len(data) > MAX_BANNER_BYTES:
        raise FestivalError(413, f"the banner is too large: at most {MAX_BANNER_BYTES // (1024 * 1024)} MB")
    kind = image_type(data) if data else None
    if data and kind is None:
        raise FestivalError(415, "the banner must be a PNG, JPEG, GIF or WebP image")
    async with engine.begin() as conn:
        await load(conn)
        await conn.execute(festival.update().where(festival.c.id == 1).values(
            banner=data or None, banner_type=kind,
            banner_version=festival.c.banner_version + 1 if data else 0, version=festival.c.version + 1))
        details = await load(conn)
        await _announce(conn, details)
    return details


async def banner(engine: AsyncEngine) -> tuple[bytes, str] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(festival.c.banner, festival.c.banner_type)
                                  .where(festival.c.id == 1))).first()
    if row is None or row.banner is None:
        return None
    return bytes(row.banner), str(row.banner_type)
