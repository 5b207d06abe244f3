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

from dataclasses import dataclass, field
from decimal import Decimal

from domain.matching.limits import Limits
from domain.matching.model import (
    LineToMatch,
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
class Billed:
    """What the invoice's lines put on each PO line, by PO line number.

    Dicts side by side rather than an object per PO line: a 10,000-line invoice would
    otherwise leave 10,000 more objects for the garbage collector to walk, and in the
    benchmark its collections were a third of the matcher's time.
    """

    defaults: Limits  # for every PO line without overrides of its own
    po_lines: dict[int, PurchaseOrderLine] = field(default_factory=dict)
    quantity: dict[int, Decimal] = field(default_factory=dict)
    amount_minor: dict[int, int] = field(default_factory=dict)
    first_position: dict[int, int] = field(default_factory=dict)
    more_positions: dict[int, list[int]] = field(default_factory=dict)  # the rare split
    overridden: dict[int, Limits] = field(default_factory=dict)

    def add(self, po_line: PurchaseOrderLine, line: LineToMatch, tolerances: Limits) -> None:
        number = po_line.line_number
        so_far = self.quantity.get(number)
        if so_far is None:
            self.po_lines[number] = po_line
            self.quantity[number] = line.quantity
            self.amount_minor[number] = line.net_minor
            self.first_position[number] = line.position
            if tolerances is not self.defaults:
                self.overridden[number] = tolerances
            return
        self.quantity[number] = DECIMAL_CONTEXT.add(so_far, line.quantity)
        self.amount_minor[number] += line.net_minor
        self.more_positions.setdefault(number, []).append(line.position)

    def billed(self, number: int) -> Decimal:
        return self.quantity.get(number, _ZERO)

    def limits(self, number: int) -> Limits:
        return self.overridden.get(number, self.defaults)

    def positions(self, number: int) -> list[int]:
        return [self.first_position[number], *self.more_positions.get(number, ())]


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
    billed: Billed,
    reasons: list[MatchReason],
    variances: list[LineVariance],
) -> None:
    """Append the quantity reasons and variances of every billed PO line, by line number."""
    three_way = po.match_mode is MatchMode.THREE_WAY
    for number in sorted(billed.quantity):
        _check_line(billed, number, three_way, reasons, variances)


def _check_line(
    billed: Billed,
    number: int,
    three_way: bool,
    reasons: list[MatchReason],
    variances: list[LineVariance],
) -> None:
    line = billed.po_lines[number]
    quantity = billed.quantity[number]
    left = available(line, three_way)
    if quantity <= left:
        return  # the usual case; a tolerance only ever adds to what is left
    over = False
    if not (three_way and line.allow_over_delivery):
        over |= _over(billed, line, MatchReasonCode.QUANTITY_OVER_ORDERED, line.quantity, reasons)
    if three_way:
        over |= _over(
            billed, line, MatchReasonCode.QUANTITY_OVER_RECEIVED, line.received_quantity, reasons
        )
    if over:
        return
    received_binds = three_way and (
        line.allow_over_delivery or line.received_quantity < line.quantity
    )
    base = line.received_quantity if received_binds else line.quantity
    variances.append(
        LineVariance(
            position=billed.first_position[number],
            po_line=number,
            kind="quantity",
            expected=quantity_text(left),
            actual=quantity_text(quantity),
            variance_pct=percent_of(DECIMAL_CONTEXT.subtract(quantity, left), base),
        )
    )


def _over(
    billed: Billed,
    line: PurchaseOrderLine,
    code: MatchReasonCode,
    base: Decimal,
    reasons: list[MatchReason],
) -> bool:
    """Whether the billed quantity is over `base` (ordered or received) less what was
    invoiced, plus the tolerance's percent of `base`; appends the reason if so."""
    number = line.line_number
    quantity = billed.quantity[number]
    limits = billed.limits(number)
    left = DECIMAL_CONTEXT.subtract(base, line.invoiced_quantity)
    allowance = limits.quantity_over_allowance(base)
    if quantity <= DECIMAL_CONTEXT.add(left, allowance):
        return False
    pct = limits.quantity_over_pct
    tolerance = (
        "no tolerance"
        if pct is None
        else f"tolerance {percent_text(pct)} allows {quantity_text(allowance)} more"
    )
    positions = billed.positions(number)
    if len(positions) == 1:
        who = f"line {positions[0]} bills"
    else:
        who = f"lines {', '.join(str(position) for position in positions)} bill"
    what = "ordered" if code is MatchReasonCode.QUANTITY_OVER_ORDERED else "received"
    reasons.append(
        MatchReason(
            code=code,
            detail=f"PO line {number}: {who} {quantity_text(quantity)}, over the "
            f"{quantity_text(left)} left of {quantity_text(base)} {what} "
            f"(unit: {line.unit}; {tolerance})",
            position=positions[0] if len(positions) == 1 else None,
            po_line=number,
            expected=quantity_text(left),
            actual=quantity_text(quantity),
        )
    )
    return True
