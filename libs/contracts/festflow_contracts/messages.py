"""Every command and event the apps send each other, typed once. Producers build these models and wrap
them in the envelope (`envelope`); consumers parse an envelope's `data` once at the edge (`parse`) and
work with the typed object. A field a newer producer adds is ignored; a missing or mistyped required
field is an InvalidMessage with the reason (the consumer dead-letters or parks the record).


CONTRACTS.md beside this library lists each message: its type, queue or topic, key, fields, producer
and consumers.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from festflow_contracts import events


class InvalidMessage(ValueError):
    """The message is not what its type says: a required field is missing or of the wrong kind."""


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    AWAITING_PAYMENT = "AWAITING_PAYMENT"  # its stock is held until a deadline; paid in time it is CONFIRMED
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"  # not paid by its deadline: its stock is back on sale
    CANCELLED = "CANCELLED"  # by the organiser, or abandoned unpaid by the buyer: its stock is back on sale


class PaymentMethod(StrEnum):
    """How an order awaiting payment is paid."""
    BANK_TRANSFER = "bank_transfer"
    CARD = "card"  # through Stripe: authorised first, captured once the hold became a sale
    MANUAL = "manual"  # the organiser took the money (at the box office, say) and marked the order paid


class TicketTypeChange(StrEnum):
    """What happened to a ticket type (TicketChanged.change)."""
    CREATED = "created"
    UPDATED = "updated"
    RETIRED = "retired"
    RESTORED = "restored"


class TicketUpdateKind(StrEnum):
    """What happened to an issued ticket (TicketUpdated.change)."""
    HOLDER = "holder"
    CHECKED_IN = "checked_in"
    VOID = "void"


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    TYPE: ClassVar[str]


class OrderItem(Message):
    ticket_id: str = Field(min_length=1, max_length=64)
    quantity: StrictInt = Field(ge=1, le=1000)  # far above any order limit; 2**63 is malformed


class PlaceOrder(Message):
    TYPE: ClassVar[str] = events.PLACE_ORDER
    order_id: str = Field(min_length=1, max_length=64)
    username: str = Field(min_length=1)
    email: str = ""
    items: tuple[OrderItem, ...] = Field(min_length=1)


class PayByBankTransfer(Message):
    """The buyer of an order held for a card payment chooses to pay it by bank transfer instead: its hold lasts
    the festival's payment term for transfers (counted from the order), announced by a new OrderHeld."""
    TYPE: ClassVar[str] = events.PAY_BY_BANK_TRANSFER
    order_id: str = Field(min_length=1, max_length=64)
    username: str = Field(min_length=1)


class CancelledTicket(Message):
    code: str = Field(min_length=1, max_length=64)  # the issued ticket
    ticket_id: str = Field(min_length=1, max_length=64)  # its type


class CancelOrder(Message):
    """The organiser cancels a confirmed order (or some of its tickets), or an order awaiting payment: its stock
    goes back on sale."""
    TYPE: ClassVar[str] = events.CANCEL_ORDER
    order_id: str = Field(min_length=1, max_length=64)
    username: str = Field(min_length=1)
    email: str = ""
    reason: str = Field(min_length=1, max_length=300)
    tickets: tuple[CancelledTicket, ...] = ()  # only these tickets of a confirmed order; () the whole order


class SoldLine(Message):
    ticket_id: str
    name: str
    quantity: StrictInt
    unit_price_cents: StrictInt  # with VAT
    vat_rate_bp: StrictInt = 0  # the VAT included in the price, in basis points (1900: 19 %), as at the sale


class StockLevel(Message):
    ticket_id: str
    stock: StrictInt


class FestivalSummary(Message):
    """What a ticket is for: shown on the buyer's mail and tickets; and who sells it (on the invoice)."""
    name: str
    starts_on: str = ""  # ISO dates, "" while the organiser has not set them
    ends_on: str = ""
    venue: str = ""
    address: str = ""
    seller: str = ""  # who sells: the account holder's name ("" for the festival's name)
    seller_address: str = ""
    vat_id: str = ""


class TicketSold(Message):
    TYPE: ClassVar[str] = events.ORDER_CONFIRMED
    order_id: str
    username: str
    email: str
    items: tuple[SoldLine, ...]
    total_cents: StrictInt
    stock: tuple[StockLevel, ...] = ()
    festival: FestivalSummary | None = None  # as it was at the sale
    invoice_number: str = ""  # gapless, given at the sale of an order with something to pay ("" for a free one)


class PayTo(Message):
    """The organiser's account a bank transfer goes to, as it was when the order was held."""
    iban: str
    bic: str = ""
    beneficiary: str = ""


class OrderHeld(Message):
    """The stock of an order that must be paid is held (taken from sale) until `due_at`: paid by then, the
    hold becomes a sale (TicketSold); otherwise it is released (OrderExpired)."""
    TYPE: ClassVar[str] = events.ORDER_HELD
    order_id: str
    username: str
    email: str
    items: tuple[SoldLine, ...]
    total_cents: StrictInt
    currency: str = "EUR"
    method: PaymentMethod
    due_at: str  # ISO 8601, UTC
    reference: str  # the payment reference (festflow_contracts.payment_reference): RF + check digits + code
    pay_to: PayTo | None = None  # for a bank transfer
    stock: tuple[StockLevel, ...] = ()
    festival: FestivalSummary | None = None


class OrderExpired(Message):
    """An order was not paid by its deadline: its stock is on sale again (`stock`)."""
    TYPE: ClassVar[str] = events.ORDER_EXPIRED
    order_id: str
    username: str
    email: str = ""
    items: tuple[SoldLine, ...] = ()
    stock: tuple[StockLevel, ...] = ()
    due_at: str
    reason: str


class OrderRefundDue(Message):
    """A payment came for an order that can no longer be sold (it expired or was abandoned, and its tickets
    are gone): the money goes back to the buyer."""
    TYPE: ClassVar[str] = events.ORDER_REFUND_DUE
    order_id: str
    username: str
    email: str = ""
    amount_cents: StrictInt
    currency: str = "EUR"
    reason: str
    method: PaymentMethod = PaymentMethod.BANK_TRANSFER  # how the payment came (what gives it back)
    payment_id: str = ""  # the payment's (PaymentReceived.payment_id)


class PaymentReceived(Message):
    """The whole amount of an order was received (`payment_id`: the provider's, e.g. the statement line)."""
    TYPE: ClassVar[str] = events.PAYMENT_RECEIVED
    order_id: str = Field(min_length=1, max_length=64)
    amount_cents: StrictInt
    currency: str = "EUR"
    method: PaymentMethod
    payment_id: str = Field(min_length=1)
    received_at: str


class TicketStatus(StrEnum):
    VALID = "valid"
    USED = "used"
    VOID = "void"


class IssuedTicket(Message):
    code: str = Field(min_length=8)  # unique and unguessable
    ticket_id: str  # the ticket type
    name: str  # the ticket type's name
    holder: str = ""
    status: TicketStatus = TicketStatus.VALID
    qr: str = Field(min_length=8)  # what the QR code carries: the code, type and festival, signed


class TicketsIssued(Message):
    """A confirmed order's tickets, one per ticket sold, with what was sold (the confirmation mail's content)."""
    TYPE: ClassVar[str] = events.TICKETS_ISSUED
    order_id: str
    username: str
    email: str
    festival: FestivalSummary | None = None
    tickets: tuple[IssuedTicket, ...] = Field(min_length=1)
    items: tuple[SoldLine, ...] = ()
    total_cents: StrictInt = 0


class TicketsResent(TicketsIssued):
    """The organiser sends an order's tickets again (as they are now: holders named since included)."""
    TYPE: ClassVar[str] = events.TICKETS_RESENT


class OrderCancelled(Message):
    """An order was cancelled: its tickets are void and `stock` is what is on sale again. `unpaid`: it was
    still awaiting payment (abandoned by the buyer, or cancelled by the organiser): nothing was sold."""
    TYPE: ClassVar[str] = events.ORDER_CANCELLED
    order_id: str
    username: str
    email: str = ""
    items: tuple[SoldLine, ...] = ()
    stock: tuple[StockLevel, ...] = ()
    reason: str
    unpaid: bool = False
    codes: tuple[str, ...] = ()  # only these tickets were cancelled (the order stays confirmed); () all of them
    refund_cents: StrictInt = 0  # what the cancelled part was paid (a part of the order's total, or all of it)
    credit_note_number: str = ""  # the credit note that cancels what was paid ("" when nothing was): CN-000001...


class TicketUpdated(Message):
    """One ticket changed: a holder's name, admitted at a gate, or void (its order cancelled)."""
    TYPE: ClassVar[str] = events.TICKET_UPDATED
    code: str
    order_id: str
    ticket_id: str
    status: TicketStatus
    holder: str = ""
    used_at: str | None = None
    gate: str | None = None
    change: TicketUpdateKind


class RejectedItem(Message):
    ticket_id: str
    quantity: int


class OrderRejected(Message):
    TYPE: ClassVar[str] = events.ORDER_REJECTED
    order_id: str
    username: str
    email: str
    items: tuple[RejectedItem, ...] = ()
    reason: str


class TicketChanged(Message):
    TYPE: ClassVar[str] = events.TICKET_TYPE_CHANGED
    id: str
    name: str
    price_cents: StrictInt
    price: str
    stock: StrictInt
    version: StrictInt
    active: StrictBool
    change: TicketTypeChange
    description: str = ""  # what this ticket type includes
    sale_starts_at: str | None = None  # ISO 8601 with zone; None: on sale now
    sale_ends_at: str | None = None  # None: until sold out
    per_buyer_limit: StrictInt | None = None  # at most this many per buyer across their orders
    vat_rate_bp: StrictInt = 0  # the VAT its price includes, in basis points (1900: 19 %)


class FestivalChanged(Message):
    """The organiser changed the festival's details (the whole of them, newest `version` wins)."""
    TYPE: ClassVar[str] = events.FESTIVAL_CHANGED
    name: str
    starts_on: str = ""
    ends_on: str = ""
    venue: str = ""
    address: str = ""
    description: str = ""
    banner_version: StrictInt = 0  # 0: no banner; it rises with each new image
    version: StrictInt
    # how buyers pay, and who sells (what invoices say)
    payment_hold_minutes: StrictInt = 15  # how long an unpaid order holds its tickets
    card_payments: bool = False  # buyers may pay by card (Stripe); their order is held payment_hold_minutes
    bank_transfer_days: StrictInt = 5  # how long a bank transfer may take (the hold of an order paid so)
    late_payment_days: StrictInt = 14  # a payment this late after the deadline still reinstates its order
    iban: str = ""  # the organiser's account for bank transfers (compact, validated); "" takes none
    bic: str = ""
    beneficiary: str = ""  # the account holder's name, as a bank transfer names it
    vat_id: str = ""
    seller_address: str = ""


class WaitingRoomChanged(Message):
    """The waiting room in front of the sale, as the organiser set it (the whole of it, newest `version` wins):
    while `enabled`, from `opens_at` on, a checkout of its ticket types needs a pass
    (festflow_contracts.waiting_pass)."""
    TYPE: ClassVar[str] = events.WAITING_ROOM_CHANGED
    enabled: bool
    opens_at: str  # ISO 8601 UTC: the pre-queue opens (joining before the start gives a random place)
    starts_at: str  # the sale starts: the places of the pre-queue are drawn
    pass_minutes: StrictInt = 10  # how long an admitted buyer's pass lasts
    commitment: str = ""  # SHA-256 (hex) of the seed the places are drawn with, published before the draw
    ticket_ids: tuple[str, ...] = ()  # the ticket types it stands in front of; () every type
    version: StrictInt


class TokenRevoked(Message):
    TYPE: ClassVar[str] = events.TOKEN_REVOKED
    jti: str = Field(min_length=1)
    exp: StrictInt


class SessionsEnded(Message):
    """Every token of this account issued at or before `before` (Unix seconds, fractional) is refused from
    now on: its password was reset, or its owner logged out everywhere."""
    TYPE: ClassVar[str] = events.SESSIONS_ENDED
    username: str = Field(min_length=1)
    before: float
    reason: str = ""


class AccountRegistered(Message):
    """A buyer signed up: the mail asks them to confirm their address by opening the link."""
    TYPE: ClassVar[str] = events.ACCOUNT_REGISTERED
    username: str = Field(min_length=1)
    email: str = Field(min_length=3)
    verify_token: str = Field(min_length=20)  # one-time secret of the link; the service keeps only its hash
    expires_at: str  # ISO 8601


class PasswordResetRequested(Message):
    """Somebody asked for a new password for this account: the mail carries a one-time link."""
    TYPE: ClassVar[str] = events.PASSWORD_RESET_REQUESTED
    username: str = Field(min_length=1)
    email: str = Field(min_length=3)
    reset_token: str = Field(min_length=20)
    expires_at: str


class SignUpForExistingAccount(Message):
    """Somebody signed up with the address of an existing account: the mail tells its owner (sign-up
    answers the same either way, so it tells nobody else which addresses have accounts)."""
    TYPE: ClassVar[str] = events.SIGN_UP_FOR_EXISTING_ACCOUNT
    username: str = Field(min_length=1)  # the existing account's
    email: str = Field(min_length=3)


class LoginLinkRequested(Message):
    """The account has seen many wrong passwords from many addresses: its owner logs in with this one-time
    link, mailed to the account's address (an attacker who has the password still cannot)."""
    TYPE: ClassVar[str] = events.LOGIN_LINK_REQUESTED
    username: str = Field(min_length=1)
    email: str = Field(min_length=3)
    login_token: str = Field(min_length=20)
    expires_at: str


ORDER_OUTCOMES: tuple[type[Message], ...] = (TicketSold, OrderRejected)
ACCOUNT_MAILS: tuple[type[Message], ...] = (AccountRegistered, PasswordResetRequested, SignUpForExistingAccount,
                                            LoginLinkRequested)
BY_TYPE: dict[str, type[Message]] = {m.TYPE: m for m in (PlaceOrder, TicketSold, OrderRejected, TicketChanged,
                                                          FestivalChanged, TokenRevoked, SessionsEnded,
                                                          AccountRegistered, PasswordResetRequested,
                                                          SignUpForExistingAccount, LoginLinkRequested,
                                                          TicketsIssued, TicketUpdated,
                                                          CancelOrder, PayByBankTransfer, OrderCancelled, TicketsResent,
                                                          OrderHeld, OrderExpired, OrderRefundDue, PaymentReceived,
                                                          WaitingRoomChanged)}

M = TypeVar("M", bound=Message)


def envelope(message: Message, source: str, subject: str | None = None) -> dict[str, Any]:
    """The message in FestFlow's event envelope, ready to encode."""
    return events.new_event(message.TYPE, source, message.model_dump(mode="json"), subject=subject)


def parse(event: dict[str, Any], model: type[M]) -> M:
    """The envelope's data as `model` (whose type the envelope must have); raises InvalidMessage."""
    if events.current_type(event.get("type", "")) != model.TYPE:
        raise InvalidMessage(f"expected {model.TYPE}, got {event.get('type')!r}")
    try:
        return model.model_validate(event.get("data"))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'data'}: {e['msg']}" for e in exc.errors())
        raise InvalidMessage(f"{model.TYPE}: {problems}") from None


def parse_any(event: dict[str, Any]) -> Message | None:
    """The envelope's data as the model of its type, or None for a type no model knows (a newer one)."""
    model = BY_TYPE.get(events.current_type(event.get("type", "")))
    return None if model is None else parse(event, model)
