"""The money checks of the PO matcher: each line's unit price against its PO line's, and
the invoice's net against what is left of the PO's amount."""

from __future__ import annotations

from domain.matching.limits import Limits
from domain.matching.model import (
    InvoiceToMatch,
    LineToMatch,
    LineVariance,
    MatchReason,
    MatchReasonCode,
    PurchaseOrderLine,
    PurchaseOrderSnapshot,
    Tolerances,
)
from domain.matching.text import amount_text, bare_amount_text, percent_of

Code = MatchReasonCode


def check_price(
    line: LineToMatch,
    po_line: PurchaseOrderLine,
    limits: Limits,
    currency: str,
    reasons: list[MatchReason],
    variances: list[LineVariance],
) -> None:
    po_price = po_line.unit_price_minor
    variance = line.unit_price_minor - po_price
    if variance == 0:
        return
    if variance > 0:
        side, limit = "over", limits.price_over_limit(po_price)
    else:
        side, limit = "under", limits.price_under_limit(po_price)
    expected = amount_text(po_price, currency)
    actual = amount_text(line.unit_price_minor, currency)
    if abs(variance) > (limit or 0):
        tolerance = (
            "no tolerance" if limit is None else f"tolerance {bare_amount_text(limit, currency)}"
        )
        reasons.append(
            MatchReason(
                code=Code.PRICE_VARIANCE,
                detail=f"line {line.position}: unit price {actual} is "
                f"{bare_amount_text(abs(variance), currency)} {side} the PO's "
                f"{bare_amount_text(po_price, currency)} ({tolerance})",
                position=line.position,
                po_line=po_line.line_number,
                expected=expected,
                actual=actual,
            )
        )
        return
    variances.append(
        LineVariance(
            position=line.position,
            po_line=po_line.line_number,
            kind="price",
            expected=expected,
            actual=actual,
            variance_minor=variance,
            variance_pct=percent_of(variance, po_price),
        )
    )


def check_total(
    invoice: InvoiceToMatch,
    po: PurchaseOrderSnapshot,
    tolerances: Tolerances,
    reasons: list[MatchReason],
) -> None:
    """The net against what is left of the PO. Nothing left at all refuses any invoice that
    bills something, whatever the tolerance: the allowance is for a PO's last invoice
    running a little over, not for invoicing a used-up PO again and again. The limits are
    `tolerances` (the defaults with the customer's) with the PO's own total limits over
    them."""
    amount = po.amount_minor
    remaining = amount - po.invoiced_minor
    net = invoice.net_minor
    currency = po.currency
    left = (
        f"{bare_amount_text(remaining, currency)} left on PO {po.number} "
        f"of {bare_amount_text(amount, currency)}"
    )
    if remaining <= 0 and net > 0:
        detail = (
            f"PO {po.number} is used up ({left}); the invoice's net is {amount_text(net, currency)}"
        )
    else:
        limit = Limits.of(tolerances, po.tolerances).total_over_limit(amount)
        if net <= remaining + (limit or 0):
            return
        tolerance = (
            "no tolerance" if limit is None else f"tolerance {bare_amount_text(limit, currency)}"
        )
        detail = (
            f"the invoice's net {amount_text(net, currency)} is "
            f"{bare_amount_text(net - remaining, currency)} over the {left} ({tolerance})"
        )
    reasons.append(
        MatchReason(
            code=Code.PO_EXHAUSTED,
            detail=detail,
            expected=amount_text(remaining, currency),
            actual=amount_text(net, currency),
        )
    )
