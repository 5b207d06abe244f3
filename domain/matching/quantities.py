"""The quantity check: what an invoice bills on a PO line against what is left of it.

Several invoice lines may bill the same PO line; their quantities are summed first, so
splitting a line cannot slip past the limit. Left is the ordered quantity less what issued
invoices took (`invoiced_quantity`), and 3-way also the received quantity less the same;
the tolerance (`quantity_over_pct`) adds a percent of the ordered quantity to the first and
of the received one to the second. Billing beyond either is an exception; beyond what is
left but within tolerance, a quantity variance. Quantities are exact Decimals throughout.

A reason names the invoice line as its `position` when one line bills the PO line, and
none when several do (the detail lists them; `po_line` says where); a variance, which
needs a position, carries the first of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from domain.matching.limits import Limits
from domain.matching.model import (
    LineVariance,
    MatchMode,
    MatchReason,
    MatchReasonCode,
    PurchaseOrderLine,
    PurchaseOrderSnapshot,
)
from domain.matching.text import percent_of, percent_text, quantity_text
from domain.money import DECIMAL_CONTEXT

_ZERO = Decimal(0)


@dataclass(slots=True)
class Touch:
    """A PO line and what the invoice lines that bill it add up to (in the invoice's order)."""

    po_line: PurchaseOrderLine
    limits: Limits
    quantity: Decimal = _ZERO
    amount_minor: int = 0
    positions: list[int] = field(default_factory=list)


def available(line: PurchaseOrderLine, three_way: bool) -> Decimal:
    """What is left of a PO line to invoice before any tolerance: of the ordered quantity,
    and 3-way also of the received one, the stricter.

    A line that allows over-delivery is bounded 3-way by what was received only (billing a
    delivery beyond the order is what the flag is for); 2-way nothing received bounds it,
    so the order does, as for any line.
    """
    ordered_left = DECIMAL_CONTEXT.subtract(line.quantity, line.invoiced_quantity)
    if not three_way:
        return ordered_left
    received_left = DECIMAL_CONTEXT.subtract(line.received_quantity, line.invoiced_quantity)
    return received_left if line.allow_over_delivery else min(ordered_left, received_left)


def check_quantities(
    po: PurchaseOrderSnapshot,
    touches: Iterable[Touch],
    reasons: list[MatchReason],
    variances: list[LineVariance],
) -> None:
    """Append the quantity reasons and variances of every touched PO line, by line number."""
    three_way = po.match_mode is MatchMode.THREE_WAY
    for touch in sorted(touches, key=lambda touch: touch.po_line.line_number):
        _check_line(touch, three_way, reasons, variances)


def _check_line(
    touch: Touch, three_way: bool, reasons: list[MatchReason], variances: list[LineVariance]
) -> None:
    line = touch.po_line
    billed = touch.quantity
    over = False
    if not (three_way and line.allow_over_delivery):
        over |= _over(
            touch, MatchReasonCode.QUANTITY_OVER_ORDERED, line.quantity, "ordered", reasons
        )
    if three_way:
        over |= _over(
            touch,
            MatchReasonCode.QUANTITY_OVER_RECEIVED,
            line.received_quantity,
            "received",
            reasons,
        )
    if over:
        return
    left = available(line, three_way)
    if billed <= left:
        return
    received_binds = three_way and (
        line.allow_over_delivery or line.received_quantity < line.quantity
    )
    base = line.received_quantity if received_binds else line.quantity
    variances.append(
        LineVariance(
            position=touch.positions[0],
            po_line=line.line_number,
            kind="quantity",
            expected=quantity_text(left),
            actual=quantity_text(billed),
            variance_pct=percent_of(DECIMAL_CONTEXT.subtract(billed, left), base),
        )
    )


def _over(
    touch: Touch, code: MatchReasonCode, base: Decimal, what: str, reasons: list[MatchReason]
) -> bool:
    """Whether the billed quantity is over `base` (ordered or received) less what was
    invoiced, plus the tolerance's percent of `base`; appends the reason if so."""
    line = touch.po_line
    left = DECIMAL_CONTEXT.subtract(base, line.invoiced_quantity)
    allowance = touch.limits.quantity_over_allowance(base)
    if touch.quantity <= DECIMAL_CONTEXT.add(left, allowance):
        return False
    pct = touch.limits.quantity_over_pct
    tolerance = (
        "no tolerance"
        if pct is None
        else f"tolerance {percent_text(pct)} allows {quantity_text(allowance)} more"
    )
    positions = touch.positions
    if len(positions) == 1:
        who = f"line {positions[0]} bills"
    else:
        who = f"lines {', '.join(str(position) for position in positions)} bill"
    reasons.append(
        MatchReason(
            code=code,
            detail=f"PO line {line.line_number}: {who} {quantity_text(touch.quantity)} "
            f"{line.unit}, over the {quantity_text(left)} left of {quantity_text(base)} "
            f"{what} ({tolerance})",
            position=positions[0] if len(positions) == 1 else None,
            po_line=line.line_number,
            expected=quantity_text(left),
            actual=quantity_text(touch.quantity),
        )
    )
    return True
