"""Which payments a refund comes from: the newest first, never more than a payment has left.

A credit note on a paid invoice gives money back through the payment provider, which
refunds payments, not invoices. The amount is taken from the invoice's payments newest
first (the most recent money in is the first to go back, as a card issuer expects), each
up to its amount less what earlier refunds took from it, so it may be split across
payments. Ties on the payment time are broken by the payment id, so the same payments
always give the same plan: a retried activity sends the same requests under the same keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from domain.errors import InvoiceRuleError


class NotRefundable(InvoiceRuleError):
    """The invoice's payments have less left to refund than the amount asked for."""

    code = "not_refundable"


@dataclass(frozen=True)
class RefundablePayment:
    payment_id: str
    paid_at: datetime
    amount_minor: int
    refunded_minor: int = 0  # what earlier refunds took from it

    @property
    def left_minor(self) -> int:
        return max(0, self.amount_minor - self.refunded_minor)


@dataclass(frozen=True)
class PlannedRefund:
    payment_id: str
    amount_minor: int


def plan_refunds(payments: Iterable[RefundablePayment], amount_minor: int) -> list[PlannedRefund]:
    """The refunds that give back `amount_minor`, one per payment, newest payment first."""
    if amount_minor <= 0:
        raise ValueError(f"a refund is for a positive amount, not {amount_minor}")
    newest_first = sorted(payments, key=lambda p: (p.paid_at, p.payment_id), reverse=True)
    plan: list[PlannedRefund] = []
    wanted = amount_minor
    for payment in newest_first:
        if wanted == 0:
            break
        take = min(wanted, payment.left_minor)
        if take > 0:
            plan.append(PlannedRefund(payment.payment_id, take))
            wanted -= take
    if wanted > 0:
        available = amount_minor - wanted
        raise NotRefundable(
            f"cannot refund {amount_minor}: the invoice's payments have {available} left to refund"
        )
    return plan
