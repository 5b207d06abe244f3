"""One PO exception as people look at it: each invoice line side by side with the PO line
it bills (ordered, unit price, received, invoiced by other invoices, what is left) and how
it differs, for the JSON API (`GET /exceptions/{id}`) and the review page alike.

The reasons are the stored ones (the workflow's match, `InvoiceExceptionRow.reasons`);
the PO figures are read now, so a receipt recorded since the match shows. Which PO line
an invoice line sits beside: the one its reason names, else the one the line names, else
the first PO line with its item code (the matcher spreads a code several PO lines share
over them in turn; the view shows the first, which its reasons then name anyway).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.matching.model import (
    MatchMode,
    MatchReason,
    PurchaseOrderLine,
    PurchaseOrderSnapshot,
)
from domain.matching.quantities import available
from domain.matching.text import percent_of
from domain.money import DECIMAL_CONTEXT
from schemas.exception_api import (
    ExceptionDetail,
    ExceptionSummary,
    InvoiceLineSide,
    LineComparison,
    LineVarianceOut,
    POLineSide,
    ReceiptOut,
)
from schemas.po_tables import DeliveryReceiptRow, from_e4
from schemas.tables import Invoice, InvoiceLineRow
from store import invoices
from store.exception_reads import ListedException
from store.purchase_orders import snapshot

_ZERO = Decimal(0)


def reasons_of(listed: ListedException) -> list[MatchReason]:
    return [MatchReason.model_validate(reason) for reason in listed.row.reasons]


def summary(listed: ListedException, now: datetime) -> ExceptionSummary:
    """`now` is the caller's clock: a closed exception's age stops at its resolution."""
    row = listed.row
    until = row.resolved_at if row.status != "open" and row.resolved_at else now
    return ExceptionSummary(
        id=row.id,
        invoice_id=row.invoice_id,
        invoice_number=listed.invoice_number,
        customer_id=row.customer_id,
        customer_name=listed.customer_name,
        po_number=row.po_number,
        reasons=reasons_of(listed),
        owner_id=row.owner_id,
        owner_name=row.owner_name,
        group_id=row.group_id,
        opened_at=row.opened_at,
        age_hours=round(max(0.0, (until - row.opened_at).total_seconds()) / 3600, 1),
        escalates_at=row.escalates_at,
        escalated_at=row.escalated_at,
        waiting_on=row.waiting_on,
        status=row.status,  # type: ignore[arg-type]  # open | resolved | cancelled
        resolution=row.resolution,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        justification=row.justification,
    )


def _po_side(line: PurchaseOrderLine, three_way: bool) -> POLineSide:
    return POLineSide(
        line_number=line.line_number,
        item_code=line.item_code,
        description=line.description,
        unit=line.unit,
        unit_price_minor=line.unit_price_minor,
        ordered=line.quantity,
        received=line.received_quantity,
        invoiced_by_others=line.invoiced_quantity,
        remaining=max(_ZERO, available(line, three_way)),
    )


def _invoice_side(row: InvoiceLineRow) -> InvoiceLineSide:
    return InvoiceLineSide(
        position=row.position,
        description=row.description,
        item_code=row.rate_code,
        quantity=Decimal(row.quantity),
        unit=row.unit,
        unit_price_minor=row.unit_price_minor,
        net_minor=row.net_minor,
        po_line=row.po_line,
    )


def _same_unit(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _beside(
    lines: Iterable[InvoiceLineRow], po: PurchaseOrderSnapshot | None, reasons: list[MatchReason]
) -> dict[int, PurchaseOrderLine]:
    """The PO line each invoice line (by position) sits beside; see the module docstring."""
    if po is None:
        return {}
    by_number = {line.line_number: line for line in po.lines}
    by_code: dict[str, PurchaseOrderLine] = {}
    for line in sorted(po.lines, key=lambda line: line.line_number):
        by_code.setdefault(line.item_code, line)
    named = {r.position: r.po_line for r in reasons if r.position is not None and r.po_line}
    beside = {}
    for row in lines:
        number = named.get(row.position) or row.po_line
        found = by_number.get(number) if number is not None else None
        if found is None and number is None and row.rate_code:
            found = by_code.get(row.rate_code)
        if found is not None:
            beside[row.position] = found
    return beside


def _billed(
    lines: Iterable[InvoiceLineRow], beside: dict[int, PurchaseOrderLine]
) -> dict[int, Decimal]:
    """What the lines put on each PO line, as the matcher sums them: lines of another item
    or unit take no part."""
    billed: dict[int, Decimal] = {}
    for row in lines:
        po_line = beside.get(row.position)
        if po_line is None or not _same_unit(row.unit, po_line.unit):
            continue
        if row.rate_code and row.rate_code != po_line.item_code:
            continue
        so_far = billed.get(po_line.line_number, _ZERO)
        billed[po_line.line_number] = DECIMAL_CONTEXT.add(so_far, Decimal(row.quantity))
    return billed


def _on_line(reason: MatchReason, position: int, po_line: PurchaseOrderLine | None) -> bool:
    if reason.position is not None:
        return reason.position == position
    return po_line is not None and reason.po_line == po_line.line_number


def _variance(
    row: InvoiceLineRow,
    po_line: PurchaseOrderLine | None,
    three_way: bool,
    billed: dict[int, Decimal],
    reasons: list[MatchReason],
) -> LineVarianceOut:
    codes = list(dict.fromkeys(r.code.value for r in reasons))
    if po_line is None:
        return LineVarianceOut(flagged=bool(reasons), codes=codes)
    price = row.unit_price_minor - po_line.unit_price_minor
    total = billed.get(po_line.line_number, _ZERO)
    over = DECIMAL_CONTEXT.subtract(total, max(_ZERO, available(po_line, three_way)))
    return LineVarianceOut(
        flagged=bool(reasons),
        codes=codes,
        unit_mismatch=not _same_unit(row.unit, po_line.unit),
        price_minor=price,
        price_pct=percent_of(price, po_line.unit_price_minor) if price else None,
        quantity_over=max(_ZERO, over),
    )


async def _receipts(session: AsyncSession, po: PurchaseOrderSnapshot) -> list[ReceiptOut]:
    units = {line.line_number: line.unit for line in po.lines}
    rows = await session.exec(
        select(DeliveryReceiptRow)
        .where(DeliveryReceiptRow.po_id == po.po_id)
        .order_by(col(DeliveryReceiptRow.delivered_on), col(DeliveryReceiptRow.id))
    )
    return [
        ReceiptOut(
            line_number=row.line_number,
            quantity=from_e4(row.quantity_e4),
            unit=units.get(row.line_number, ""),
            delivered_on=row.delivered_on,
            reference=row.reference,
            kind=row.kind,
        )
        for row in rows
    ]


async def detail(session: AsyncSession, listed: ListedException, now: datetime) -> ExceptionDetail:
    """The exception with its lines compared; reads only (the page changes nothing)."""
    row = listed.row
    invoice = await session.get(Invoice, row.invoice_id)
    lines = await invoices.lines(session, row.invoice_id)
    # as the match stage sees the PO: an adjusted invoice's original (voided alongside) holds
    # nothing of it the replacement must fit beside
    po = (
        await snapshot(
            session,
            row.customer_id,
            row.po_number,
            exclude_invoice_id=row.invoice_id,
            replaced_invoice_id=invoice.replaces_invoice_id if invoice else None,
        )
        if row.po_number
        else None
    )
    reasons = reasons_of(listed)
    three_way = po is not None and po.match_mode is MatchMode.THREE_WAY
    beside = _beside(lines, po, reasons)
    billed = _billed(lines, beside)
    compared = []
    shown: set[int] = set()
    for line in lines:
        po_line = beside.get(line.position)
        own = [r for r in reasons if _on_line(r, line.position, po_line)]
        shown.update(id(r) for r in own)
        compared.append(
            LineComparison(
                invoice_line=_invoice_side(line),
                po_line=_po_side(po_line, three_way) if po_line else None,
                variance=_variance(line, po_line, three_way, billed, own),
                reasons=own,
            )
        )
    used = {line.line_number for line in beside.values()}
    return ExceptionDetail(
        **summary(listed, now).model_dump(),
        currency=invoice.currency if invoice else None,
        invoice_net_minor=invoice.subtotal_minor if invoice else None,
        invoice_total_minor=invoice.total_minor if invoice else None,
        po_id=po.po_id if po else None,
        po_currency=po.currency if po else None,
        match_mode=po.match_mode.value if po else None,
        po_amount_minor=po.amount_minor if po else None,
        po_invoiced_by_others_minor=po.invoiced_minor if po else None,
        lines=compared,
        other_po_lines=[
            _po_side(line, three_way) for line in po.lines if line.line_number not in used
        ]
        if po
        else [],
        receipts=await _receipts(session, po) if po else [],
        invoice_reasons=[r for r in reasons if id(r) not in shown],
    )
