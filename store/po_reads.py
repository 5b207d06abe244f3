"""Purchase orders as the API reads them: the PO with its lines (ordered, received,
invoiced, remaining), its revisions and its delivery records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.matching.model import Tolerances
from domain.money import DECIMAL_CONTEXT, round_minor
from schemas.po_api import (
    DeliveryReceiptOut,
    PurchaseOrderLineOut,
    PurchaseOrderOut,
    PurchaseOrderRevisionOut,
    PurchaseOrderSummary,
)
from schemas.po_tables import (
    DeliveryReceiptRow,
    POConsumptionRow,
    PurchaseOrderLineRow,
    PurchaseOrderRevisionRow,
    PurchaseOrderRow,
    from_e4,
)


async def line_rows(
    session: AsyncSession, po_id: str, *, fresh: bool = False
) -> list[PurchaseOrderLineRow]:
    """The PO's lines by number; ``fresh`` reads them again even if the session holds
    them (the running totals move by UPDATEs the session does not see)."""
    query = (
        select(PurchaseOrderLineRow)
        .where(PurchaseOrderLineRow.po_id == po_id)
        .order_by(col(PurchaseOrderLineRow.line_number))
    )
    if fresh:
        query = query.execution_options(populate_existing=True)
    return list(await session.exec(query))


def tolerances_of(value: dict[str, Any] | None) -> Tolerances | None:
    return None if value is None else Tolerances.model_validate(value)


def line_amount_minor(line: PurchaseOrderLineRow) -> int:
    """Ordered quantity x unit price, rounded per line (as the PO snapshot counts it)."""
    return round_minor(DECIMAL_CONTEXT.multiply(from_e4(line.quantity_e4), line.unit_price_minor))


def summary(po: PurchaseOrderRow) -> PurchaseOrderSummary:
    return PurchaseOrderSummary(
        **po.model_dump(exclude={"tolerances"}), tolerances=tolerances_of(po.tolerances)
    )


async def invoiced_minor_by_line(
    session: AsyncSession, po_id: str, *, excluding: Sequence[str] = ()
) -> dict[int, int]:
    """Net amounts consumed per line by invoices not released (leaving `excluding` out)."""
    query = (
        select(POConsumptionRow.line_number, func.sum(POConsumptionRow.amount_minor))
        .where(POConsumptionRow.po_id == po_id, col(POConsumptionRow.released_at).is_(None))
        .group_by(col(POConsumptionRow.line_number))
    )
    if excluding:
        query = query.where(col(POConsumptionRow.invoice_id).not_in(excluding))
    return {int(number): int(total) for number, total in await session.exec(query)}


def _line_out(line: PurchaseOrderLineRow, invoiced_minor: int) -> PurchaseOrderLineOut:
    return PurchaseOrderLineOut(
        line_number=line.line_number,
        item_code=line.item_code,
        description=line.description,
        unit=line.unit,
        unit_price_minor=line.unit_price_minor,
        allow_over_delivery=line.allow_over_delivery,
        tolerances=tolerances_of(line.tolerances),
        ordered=from_e4(line.quantity_e4),
        received=from_e4(line.received_e4),
        invoiced=from_e4(line.invoiced_e4),
        remaining=from_e4(max(0, line.quantity_e4 - line.invoiced_e4)),
        amount_minor=line_amount_minor(line),
        invoiced_minor=invoiced_minor,
    )


def _receipt_out(row: DeliveryReceiptRow) -> DeliveryReceiptOut:
    return DeliveryReceiptOut.model_validate(
        {**row.model_dump(exclude={"quantity_e4", "po_id"}), "quantity": from_e4(row.quantity_e4)}
    )


async def detail(session: AsyncSession, po_id: str) -> PurchaseOrderOut | None:
    po = await session.get(PurchaseOrderRow, po_id, populate_existing=True)
    if po is None:
        return None
    lines = await line_rows(session, po_id, fresh=True)
    invoiced = await invoiced_minor_by_line(session, po_id)
    revisions: Sequence[PurchaseOrderRevisionRow] = list(
        await session.exec(
            select(PurchaseOrderRevisionRow)
            .where(PurchaseOrderRevisionRow.po_id == po_id)
            .order_by(col(PurchaseOrderRevisionRow.revision))
        )
    )
    receipts = list(
        await session.exec(
            select(DeliveryReceiptRow)
            .where(DeliveryReceiptRow.po_id == po_id)
            .order_by(col(DeliveryReceiptRow.at), col(DeliveryReceiptRow.id))
        )
    )
    line_outs = [_line_out(line, invoiced.get(line.line_number, 0)) for line in lines]
    return PurchaseOrderOut(
        **summary(po).model_dump(),
        amount_minor=sum(line.amount_minor for line in line_outs),
        invoiced_minor=sum(invoiced.values()),
        lines=line_outs,
        revisions=[
            PurchaseOrderRevisionOut.model_validate(row, from_attributes=True) for row in revisions
        ],
        receipts=[_receipt_out(row) for row in receipts],
    )
