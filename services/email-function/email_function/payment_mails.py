"""The mails of an order that must be paid: how to pay it (held: by card, or by bank transfer), that it ran out
(expired), and that a payment it could not take goes back (refund due). Plain text: each says the amount, the
deadline in UTC and the order's page, where the buyer sees the same with its QR code."""
from __future__ import annotations

from festflow_contracts.messages import OrderExpired, OrderHeld, OrderRefundDue, PaymentMethod
from festflow_contracts.money import euros
from festflow_contracts.payment_reference import printed
from festflow_runtime import display


def held_text(held: OrderHeld, order_page: str) -> tuple[str, str]:
    """(subject, text) asking the buyer to pay before the deadline: by card on the order's page, or by bank
    transfer (the account and the reference)."""
    lines = [f"  {item.quantity} x {item.name} at {euros(item.unit_price_cents)}" for item in held.items]
    account = held.pay_to
    if held.method == PaymentMethod.CARD:
        how = (f"Pay by card on your order's page: {order_page}\n"
               + ("You may choose to pay by bank transfer there instead; your tickets are then held longer.\n"
                  if account else ""))
    else:
        how = ("" if account is None else
               f"Pay by bank transfer:\n  Amount:      {euros(held.total_cents)}\n"
               f"  To:          {account.beneficiary or '(the organiser)'}\n  IBAN:        {printed(account.iban)}\n"
               + (f"  BIC:         {account.bic}\n" if account.bic else "")
               + f"  Reference:   {printed(held.reference)}  (write exactly this, so that we find your payment)\n"
               + f"\nYour order, with a QR code your banking app can scan: {order_page}\n")
    return (f"Your FestFlow order {held.order_id[:8]}: please pay by {display.moment(held.due_at)}",
            f"Hello {held.username},\n\nyour tickets are reserved for you until {display.moment(held.due_at)}.\n\n"
            + "\n".join(lines) + f"\n\nTotal: {euros(held.total_cents)}\n\n" + how
            + "\nYour tickets come by mail as soon as your payment is in. If it has not arrived by then, the tickets "
            "go back on sale.\n\nFestFlow\n")


def expired_text(expired: OrderExpired, order_page: str) -> tuple[str, str]:
    lines = [f"  {item.quantity} x {item.name}" for item in expired.items]
    return (f"Your FestFlow order {expired.order_id[:8]} has expired",
            f"Hello {expired.username},\n\nwe did not receive the payment for your order {expired.order_id} by "
            f"{display.moment(expired.due_at)}, so its tickets are back on sale:\n\n" + "\n".join(lines)
            + "\n\nNothing is owed. If you paid in the meantime, your order is confirmed when the payment arrives "
            "and the tickets are still free; otherwise the money is refunded.\n"
            f"Your order: {order_page}\n\nFestFlow\n")


def refund_due_text(due: OrderRefundDue, order_page: str) -> tuple[str, str]:
    return (f"Your payment for FestFlow order {due.order_id[:8]} will be refunded",
            f"Hello {due.username},\n\nwe received {euros(due.amount_cents)} for your order {due.order_id}, but "
            f"it was {due.reason}.\nThe organiser refunds it to the account it came from.\n"
            f"Your order: {order_page}\n\nFestFlow\n")


def text(message: OrderHeld | OrderExpired | OrderRefundDue, order_page: str) -> tuple[str, str]:
    """(subject, text) of the mail about this step of paying an order."""
    if isinstance(message, OrderHeld):
        return held_text(message, order_page)
    if isinstance(message, OrderExpired):
        return expired_text(message, order_page)
    return refund_due_text(message, order_page)
