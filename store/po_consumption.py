"""A PO as matching sees it, and what issued invoices consume of it.

`snapshot` builds the `PurchaseOrderSnapshot` the pure matcher takes, leaving out what the
invoice being matched has consumed itself, so matching an invoice again never counts it
against itself. `consume` takes what the matcher says issuing the invoice uses; `release`
gives it back when the invoice is voided or cancelled.

An adjusted invoice (a dispute's remedy) replaces its original, which is voided just after
the replacement's process starts: the two run side by side, so the replacement may be
matched while the original still holds its consumption. `snapshot` leaves the replaced
invoice's consumption out too (``replaced_invoice_id``), and the match stage releases it
before the replacement consumes (`release` is idempotent, so the void's own release then
gives back nothing): the PO ends with the replacement's consumption only, whichever of the
two steps runs first.

Race safety: a line's ``invoiced_e4`` only grows through
``UPDATE ... SET invoiced_e4 = invoiced_e4 + :q WHERE ... AND invoiced_e4 + :q <= :max``.
On PostgreSQL a second transaction updating the same row waits for the first, then
re-evaluates the condition against the committed total (READ COMMITTED); on SQLite
writers are serialised by the database lock. Either way two invoices racing for a line's
last units cannot both get them: the loser's UPDATE matches no row, its savepoint is
rolled back, and `consume` answers False with nothing written.

Idempotency: the consumption rows are keyed (invoice, PO, line) and inserted before the
totals move, so a repeated `consume` for the same invoice (a retried activity, even one
running concurrently with the first) finds its rows and consumes nothing more; `release`
marks each row released with a conditional UPDATE and gives back only what it marked.
A released consumption stays released: a voided or cancelled invoice does not come back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.matching.model import (
    Consumption,
    MatchMode,
    POStatus,
    PurchaseOrderLine,
    PurchaseOrderSnapshot,
)
from schemas.po_tables import (
    POConsumptionRow,
    PurchaseOrderLineRow,
    PurchaseOrderRow,
    from_e4,
    to_e4,
)
from store import audit
from store.db import insert_if_absent
from store.po_reads import invoiced_minor_by_line, line_rows, tolerances_of

CONSUMING_ACTOR = "invoice-process"


async def _po_of(
    session: AsyncSession, customer_id: str, po_number: str
) -> PurchaseOrderRow | None:
    rows = await session.exec(
        select(PurchaseOrderRow)
        .where(PurchaseOrderRow.customer_id == customer_id, PurchaseOrderRow.number == po_number)
        .execution_options(populate_existing=True)
    )
    return rows.first()


async def _own_consumption(
    session: AsyncSession, invoice_ids: Sequence[str], po_id: str
) -> dict[int, int]:
    """The invoices' unreleased consumption of the PO, quantity_e4 per line."""
    if not invoice_ids:
        return {}
    rows = await session.exec(
        select(POConsumptionRow).where(
            col(POConsumptionRow.invoice_id).in_(invoice_ids),
            POConsumptionRow.po_id == po_id,
            col(POConsumptionRow.released_at).is_(None),
        )
    )
    own: dict[int, int] = {}
    for row in rows:
        own[row.line_number] = own.get(row.line_number, 0) + row.quantity_e4
    return own


async def snapshot(
    session: AsyncSession,
    customer_id: str,
    po_number: str,
    *,
    exclude_invoice_id: str | None,
    replaced_invoice_id: str | None = None,
) -> PurchaseOrderSnapshot | None:
    """The customer's PO with that number as it stands, or None if the customer has none.

    ``invoiced_quantity`` and ``invoiced_minor`` leave out ``exclude_invoice_id``'s own
    unreleased consumption, and that of ``replaced_invoice_id`` (the original an adjusted
    invoice replaces: voided, its consumption the replacement's to take). The PO's own
    tolerances are folded into each line's (a line's own limits win: the matcher's order
    is customer, then PO, then line), and kept whole for the total, which is the PO's.
    """
    po = await _po_of(session, customer_id, po_number)
    if po is None:
        return None
    left_out = [i for i in (exclude_invoice_id, replaced_invoice_id) if i is not None]
    own = await _own_consumption(session, left_out, po.id)
    po_tolerances = tolerances_of(po.tolerances)
    lines = []
    for line in await line_rows(session, po.id, fresh=True):
        line_tolerances = tolerances_of(line.tolerances)
        if po_tolerances is not None:
            line_tolerances = po_tolerances.overridden(line_tolerances)
        lines.append(
            PurchaseOrderLine(
                line_number=line.line_number,
                item_code=line.item_code,
                description=line.description,
                quantity=from_e4(line.quantity_e4),
                unit=line.unit,
                unit_price_minor=line.unit_price_minor,
                allow_over_delivery=line.allow_over_delivery,
                tolerances=line_tolerances,
                invoiced_quantity=from_e4(line.invoiced_e4 - own.get(line.line_number, 0)),
                received_quantity=from_e4(line.received_e4),
            )
        )
    invoiced = await invoiced_minor_by_line(session, po.id, excluding=left_out)
    return PurchaseOrderSnapshot(
        po_id=po.id,
        number=po.number,
        customer_id=po.customer_id,
        currency=po.currency,
        status=POStatus(po.status),
        match_mode=MatchMode(po.match_mode),
        valid_from=po.valid_from,
        valid_to=po.valid_to,
        revision=po.revision,
        lines=tuple(lines),
        invoiced_minor=sum(invoiced.values()),
        tolerances=po_tolerances,
    )


async def po_exists_for_other_customer(
    session: AsyncSession, customer_id: str, po_number: str
) -> bool:
    """Whether another customer has a PO with this number (PO_OF_ANOTHER_CUSTOMER rather
    than PO_MISSING: the invoice most likely names the wrong customer or PO)."""
    rows = await session.exec(
        select(PurchaseOrderRow.id)
        .where(PurchaseOrderRow.number == po_number, PurchaseOrderRow.customer_id != customer_id)
        .limit(1)
    )
    return rows.first() is not None


def _per_line(consumptions: Sequence[Consumption]) -> dict[int, tuple[int, int]]:
    """(quantity_e4, amount_minor) per PO line; two invoice lines on one PO line add up."""
    merged: dict[int, tuple[int, int]] = {}
    for item in consumptions:
        if item.quantity < 0 or item.amount_minor < 0:  # a credit note consumes nothing
            raise ValueError(f"a consumption cannot be negative: {item}")
        quantity, amount = merged.get(item.po_line, (0, 0))
        merged[item.po_line] = (quantity + to_e4(item.quantity), amount + item.amount_minor)
    return dict(sorted(merged.items()))  # one order for every writer: no lock cycles


async def consume(
    session: AsyncSession,
    invoice_id: str,
    po_id: str,
    consumptions: Sequence[Consumption],
    max_quantity_e4: Mapping[int, int],
    *,
    actor: str = CONSUMING_ACTOR,
    now: datetime | None = None,
) -> bool:
    """Take each line's quantity and amount for the invoice, all or nothing.

    ``max_quantity_e4`` caps each line's invoiced total after this invoice (the ordered or
    received quantity plus what the tolerances allow); a line missing from it is capped at
    its ordered quantity. False, with nothing written, if the PO is unknown, not open, or
    lacks a line, or if any line would go over its cap. True if consumed, and for a repeat
    for the same invoice (which consumes nothing more).
    """
    now = now or datetime.now(UTC)
    per_line = _per_line(consumptions)
    po = (
        await session.exec(
            select(PurchaseOrderRow)
            .where(PurchaseOrderRow.id == po_id)
            .with_for_update(read=True)  # an amendment waits for us, and we for it
            .execution_options(populate_existing=True)
        )
    ).first()
    if po is None:
        return False
    if await _any_consumption(session, invoice_id, po_id):
        return True  # a repeat, even once the PO has closed since
    if po.status != POStatus.OPEN.value:
        return False
    known = {line.line_number for line in await line_rows(session, po_id)}
    if not per_line or set(per_line) - known:
        return not per_line
    savepoint = await session.begin_nested()
    for line_number, (quantity_e4, amount_minor) in per_line.items():
        inserted = await insert_if_absent(
            session,
            POConsumptionRow,
            invoice_id=invoice_id,
            po_id=po_id,
            line_number=line_number,
            quantity_e4=quantity_e4,
            amount_minor=amount_minor,
            consumed_at=now,
            released_at=None,
        )
        if not inserted:  # a concurrent repeat for this invoice got there first
            await savepoint.rollback()
            return True
        if not await _add_invoiced(
            session, po_id, line_number, quantity_e4, max_quantity_e4.get(line_number)
        ):
            await savepoint.rollback()
            return False
    await audit.record(
        session,
        # a corrected invoice consumes again after its release: each consumption its own
        step_key=f"{invoice_id}:po_consumed:{po_id}:{now.isoformat()}",
        entity="purchase_order",
        action="purchase_order.consumed",
        actor=actor,
        invoice_id=invoice_id,
        at=now,
        data={
            "po_id": po_id,
            "lines": [
                {"line_number": n, "quantity": str(from_e4(q)), "amount_minor": a}
                for n, (q, a) in per_line.items()
            ],
        },
    )
    await savepoint.commit()
    return True


async def forget_released(session: AsyncSession, invoice_id: str) -> None:
    """Drop the invoice's released consumption rows, so that its corrected version can
    consume again (the audit trail keeps both the consumption and the release)."""
    connection = await session.connection()
    await connection.execute(
        delete(POConsumptionRow).where(
            col(POConsumptionRow.invoice_id) == invoice_id,
            col(POConsumptionRow.released_at).is_not(None),
        )
    )


async def _any_consumption(session: AsyncSession, invoice_id: str, po_id: str) -> bool:
    rows = await session.exec(
        select(POConsumptionRow.line_number)
        .where(POConsumptionRow.invoice_id == invoice_id, POConsumptionRow.po_id == po_id)
        .limit(1)
    )
    return rows.first() is not None


async def _add_invoiced(
    session: AsyncSession, po_id: str, line_number: int, q: int, cap: int | None
) -> bool:
    lines = PurchaseOrderLineRow
    limit = col(lines.quantity_e4) if cap is None else cap
    statement = (
        update(lines)
        .where(
            col(lines.po_id) == po_id,
            col(lines.line_number) == line_number,
            col(lines.invoiced_e4) + q <= limit,
        )
        .values(invoiced_e4=col(lines.invoiced_e4) + q)
        .execution_options(synchronize_session=False, preserve_rowcount=True)
    )
    result = await (await session.connection()).execute(statement)
    return bool(result.rowcount)


async def release(
    session: AsyncSession,
    invoice_id: str,
    *,
    actor: str = CONSUMING_ACTOR,
    now: datetime | None = None,
) -> int:
    """Give back everything the invoice consumed and is not released yet; the number of
    lines given back (0 for a repeat, or an invoice that consumed nothing)."""
    now = now or datetime.now(UTC)
    rows = list(
        await session.exec(
            select(POConsumptionRow)
            .where(
                POConsumptionRow.invoice_id == invoice_id,
                col(POConsumptionRow.released_at).is_(None),
            )
            .order_by(col(POConsumptionRow.po_id), col(POConsumptionRow.line_number))
        )
    )
    connection = await session.connection()
    released: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        marked = await connection.execute(
            update(POConsumptionRow)
            .where(
                col(POConsumptionRow.invoice_id) == invoice_id,
                col(POConsumptionRow.po_id) == row.po_id,
                col(POConsumptionRow.line_number) == row.line_number,
                col(POConsumptionRow.released_at).is_(None),
            )
            .values(released_at=now)
            .execution_options(synchronize_session=False, preserve_rowcount=True)
        )
        if not marked.rowcount:  # a concurrent release marked it first
            continue
        lines = PurchaseOrderLineRow
        await connection.execute(
            update(lines)
            .where(col(lines.po_id) == row.po_id, col(lines.line_number) == row.line_number)
            .values(invoiced_e4=col(lines.invoiced_e4) - row.quantity_e4)
            .execution_options(synchronize_session=False, preserve_rowcount=True)
        )
        released.setdefault(row.po_id, []).append(
            {"line_number": row.line_number, "quantity": str(from_e4(row.quantity_e4))}
        )
    for po_id, given_back in released.items():
        await audit.record(
            session,
            step_key=f"{invoice_id}:po_released:{po_id}",
            entity="purchase_order",
            action="purchase_order.released",
            actor=actor,
            invoice_id=invoice_id,
            at=now,
            data={"po_id": po_id, "lines": given_back},
        )
    return sum(len(lines) for lines in released.values())
