"""The PO matcher: does an invoice fit its purchase order, and what does it take from it.

`match_invoice` is pure and deterministic: the PO snapshot (with what other invoices
already consumed), the tolerances (customer overrides merged by the caller) and the recent
invoices for the duplicate check are all arguments. It reports every reason it finds, not
only the first, so the exception queue shows the whole picture in one go.

The checks, in the order their reasons appear:

1. the PO itself: another customer's, closed or cancelled, outside its validity (the
   invoice's issue date; `valid_to` inclusive), another currency (then no price or total
   comparison: the figures are not comparable);
2. each invoice line (in the invoice's order) to a PO line: the line's `po_line` if it
   names one, else by item code (see `_LineIndex`); its unit must be the PO line's
   (trimmed, case-insensitive; never converted), and its unit price within the price
   tolerances. A line that maps to no PO line, names another item or bills in another unit
   takes no part in the quantity check: there is nothing to add it to;
3. per PO line, the quantity of all invoice lines on it, summed: against what is left of
   the ordered quantity (and, 3-way, of the received one);
4. the invoice's net (tax is outside) against what is left of the PO's amount;
5. possible duplicates (`domain.matching.duplicates`).

Work is linear in the number of lines: PO lines are indexed by number and by item code,
and nothing loops over lines inside a loop over lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache

from domain.matching.amounts import check_price, check_total
from domain.matching.duplicates import possible_duplicates
from domain.matching.limits import Limits
from domain.matching.model import (
    Consumption,
    InvoiceToMatch,
    LineToMatch,
    LineVariance,
    MatchMode,
    MatchOutcome,
    MatchReason,
    MatchReasonCode,
    MatchResult,
    POStatus,
    PurchaseOrderLine,
    PurchaseOrderSnapshot,
    RecentInvoice,
    Tolerances,
)
from domain.matching.quantities import Billed, available, check_quantities
from domain.money import DECIMAL_CONTEXT

Code = MatchReasonCode


def match_invoice(
    invoice: InvoiceToMatch,
    po: PurchaseOrderSnapshot | None,
    *,
    tolerances: Tolerances,
    po_of_another_customer: bool = False,
    recent: Sequence[RecentInvoice] = (),
    duplicate_window_days: int = 30,
) -> MatchResult:
    """Match `invoice` against `po` (the snapshot of the PO its `po_number` names, None when
    the customer has none by that number; `po_of_another_customer` says another customer
    has one). An invoice without a PO number is not matched against anything: EXCEPTION
    PO_MISSING when the customer requires a PO, else MATCHED with nothing consumed (a `po`
    passed along with it is ignored). Duplicates are checked in every case. Variances
    within tolerance are reported whatever the outcome; consumption only when the invoice
    may go (MATCHED or MATCHED_WITH_VARIANCE), one entry per PO line, by line number.
    """
    duplicates = possible_duplicates(invoice, recent, duplicate_window_days)
    po_number = (invoice.po_number or "").strip()
    if not po_number:
        if not invoice.po_required:
            return _result(None, [*duplicates], [], None)
        missing = MatchReason(
            code=Code.PO_MISSING,
            detail="the customer requires a PO number and the invoice has none",
        )
        return _result(None, [missing, *duplicates], [], None)
    if po is None or po.customer_id != invoice.customer_id:
        return _result(None, [_no_po(po_number, po, po_of_another_customer), *duplicates], [], None)

    reasons = _check_po(invoice, po)
    comparable = po.currency == invoice.currency
    variances: list[LineVariance] = []
    billed = _map_lines(invoice, po, tolerances, comparable, reasons, variances)
    check_quantities(po, billed, reasons, variances)
    if comparable:
        check_total(invoice, po, tolerances, reasons)
    reasons.extend(duplicates)
    return _result(po, reasons, variances, billed)


def _result(
    po: PurchaseOrderSnapshot | None,
    reasons: list[MatchReason],
    variances: list[LineVariance],
    billed: Billed | None,
) -> MatchResult:
    on_lines: tuple[Consumption, ...] = ()
    if billed is not None:
        quantity, amount = billed.quantity, billed.amount_minor
        on_lines = tuple(
            Consumption(po_line=number, quantity=quantity[number], amount_minor=amount[number])
            for number in sorted(quantity)
        )
    if reasons:
        outcome = MatchOutcome.EXCEPTION
    else:
        outcome = MatchOutcome.MATCHED_WITH_VARIANCE if variances else MatchOutcome.MATCHED
    return MatchResult(
        outcome=outcome,
        po_id=po.po_id if po else None,
        po_revision=po.revision if po else None,
        reasons=tuple(reasons),
        variances=tuple(variances),
        consumption=() if reasons else on_lines,
        billed=on_lines,
    )


def _no_po(
    po_number: str, po: PurchaseOrderSnapshot | None, po_of_another_customer: bool
) -> MatchReason:
    # A snapshot of another customer's PO handed in by mistake is reported as such, and
    # nothing of it is compared (its figures are not this customer's business).
    if po_of_another_customer or po is not None:
        return MatchReason(
            code=Code.PO_OF_ANOTHER_CUSTOMER,
            detail=f"PO {po_number} belongs to another customer",
            actual=po_number,
        )
    return MatchReason(
        code=Code.PO_MISSING,
        detail=f"the customer has no PO {po_number}",
        actual=po_number,
    )


def _check_po(invoice: InvoiceToMatch, po: PurchaseOrderSnapshot) -> list[MatchReason]:
    reasons: list[MatchReason] = []
    if po.status is not POStatus.OPEN:
        reasons.append(
            MatchReason(
                code=Code.PO_CLOSED,
                detail=f"PO {po.number} is {po.status.value}",
                expected=POStatus.OPEN.value,
                actual=po.status.value,
            )
        )
    issued = invoice.issue_date
    if po.valid_from is not None and issued < po.valid_from:
        reasons.append(
            MatchReason(
                code=Code.PO_NOT_YET_VALID,
                detail=f"the invoice date {issued.isoformat()} is before PO {po.number} "
                f"is valid (from {po.valid_from.isoformat()})",
                expected=f">= {po.valid_from.isoformat()}",
                actual=issued.isoformat(),
            )
        )
    if po.valid_to is not None and issued > po.valid_to:
        reasons.append(
            MatchReason(
                code=Code.PO_EXPIRED,
                detail=f"the invoice date {issued.isoformat()} is after PO {po.number} "
                f"expired (valid to {po.valid_to.isoformat()})",
                expected=f"<= {po.valid_to.isoformat()}",
                actual=issued.isoformat(),
            )
        )
    if po.currency != invoice.currency:
        reasons.append(
            MatchReason(
                code=Code.CURRENCY_MISMATCH,
                detail=f"the invoice is in {invoice.currency}, PO {po.number} in {po.currency}",
                expected=po.currency,
                actual=invoice.currency,
            )
        )
    return reasons


class _LineIndex:
    """PO lines by number and by item code.

    A line that names no PO line goes to the PO line with its item code. When several PO
    lines share the code, it goes to the first of them, by line number, that still has
    quantity left (what `available` leaves, less what earlier lines of this invoice already
    put on it); when none has any left, to the first of them (whose quantity check then
    fails). Greedy and in the invoice's order, so an invoice billing two lots of a code
    ordered in two PO lines fills the first and then the second. The pointer per code only
    moves forward, so the whole allocation is linear.
    """

    def __init__(self, po: PurchaseOrderSnapshot, billed: Billed) -> None:
        self.three_way = po.match_mode is MatchMode.THREE_WAY
        self.by_number = {line.line_number: line for line in po.lines}
        # The usual PO has one line per code: a plain dict for those, and lists (with
        # their pointer) only for the codes several lines share.
        self.by_code: dict[str, PurchaseOrderLine] = {}
        self.shared: dict[str, list[PurchaseOrderLine]] = {}
        for line in po.lines:
            first = self.by_code.setdefault(line.item_code, line)
            if first is not line:
                self.shared.setdefault(line.item_code, [first]).append(line)
        for lines in self.shared.values():
            lines.sort(key=lambda line: line.line_number)
            self.by_code[lines[0].item_code] = lines[0]
        self.next_with_quantity = dict.fromkeys(self.shared, 0)
        self.billed = billed

    def for_code(self, code: str) -> PurchaseOrderLine | None:
        candidates = self.shared.get(code)
        if candidates is None:
            return self.by_code.get(code)
        at = self.next_with_quantity[code]
        while at < len(candidates) and self._left(candidates[at]) <= 0:
            at += 1
        self.next_with_quantity[code] = at
        return candidates[at] if at < len(candidates) else candidates[0]

    def _left(self, line: PurchaseOrderLine) -> Decimal:
        billed = self.billed.billed(line.line_number)
        return DECIMAL_CONTEXT.subtract(available(line, self.three_way), billed)


def _map_lines(
    invoice: InvoiceToMatch,
    po: PurchaseOrderSnapshot,
    tolerances: Tolerances,
    comparable: bool,
    reasons: list[MatchReason],
    variances: list[LineVariance],
) -> Billed:
    """Each line to its PO line, with its unit and price checked; what the lines put on
    each PO line."""
    defaults = Limits.of(tolerances)  # shared by every PO line without overrides
    billed = Billed(defaults)
    index = _LineIndex(po, billed)
    for line in invoice.lines:
        po_line = _po_line_of(line, po, index, reasons)
        if po_line is None:
            continue
        if line.unit != po_line.unit and _unit(line.unit) != _unit(po_line.unit):
            reasons.append(
                MatchReason(
                    code=Code.UOM_MISMATCH,
                    detail=f"line {line.position}: billed in {line.unit!r}, PO line "
                    f"{po_line.line_number} is in {po_line.unit!r}",
                    position=line.position,
                    po_line=po_line.line_number,
                    expected=po_line.unit,
                    actual=line.unit,
                )
            )
            continue
        if po_line.tolerances is None:
            limits = defaults
        else:
            limits = billed.overridden.get(po_line.line_number) or Limits.of(
                tolerances, po_line.tolerances
            )
        billed.add(po_line, line, limits)
        if comparable:
            check_price(line, po_line, limits, invoice.currency, reasons, variances)
    return billed


@lru_cache(maxsize=1024)
def _unit(unit: str) -> str:
    """A unit as compared: trimmed, case-folded. Cached: an invoice names a handful of
    units over and over, and this runs twice per line."""
    return unit.strip().casefold()


def _po_line_of(
    line: LineToMatch, po: PurchaseOrderSnapshot, index: _LineIndex, reasons: list[MatchReason]
) -> PurchaseOrderLine | None:
    if line.po_line is not None:
        named = index.by_number.get(line.po_line)
        if named is None:
            reasons.append(
                MatchReason(
                    code=Code.PO_LINE_UNKNOWN,
                    detail=f"line {line.position}: PO {po.number} has no line {line.po_line}",
                    position=line.position,
                    po_line=line.po_line,
                    actual=str(line.po_line),
                )
            )
            return None
        if line.item_code and named.item_code != line.item_code:
            reasons.append(
                MatchReason(
                    code=Code.ITEM_MISMATCH,
                    detail=f"line {line.position}: bills {line.item_code!r}, PO line "
                    f"{named.line_number} is for {named.item_code!r}",
                    position=line.position,
                    po_line=named.line_number,
                    expected=named.item_code,
                    actual=line.item_code,
                )
            )
            return None
        return named
    found = index.for_code(line.item_code) if line.item_code else None
    if found is None:
        what = f"item {line.item_code!r}" if line.item_code else f"{line.description!r}"
        reasons.append(
            MatchReason(
                code=Code.NOT_ON_PO,
                detail=f"line {line.position}: {what} is not on PO {po.number}",
                position=line.position,
                actual=line.item_code or line.description,
            )
        )
    return found
