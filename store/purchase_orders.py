"""Purchase orders: create, amend (each amendment a new revision), record deliveries, and
read them; what invoices consume of them is in `store.po_consumption`, re-exported here.

Writes lock the PO row first (FOR UPDATE to amend, FOR SHARE to record a delivery or
consume; SQLite transactions begin IMMEDIATE and are serialised already), so an amendment
that lowers a quantity and an invoice consuming it cannot pass each other unseen. The
running totals of a line (``received_e4``, ``invoiced_e4``) only move through conditional
UPDATEs that refuse to cross their limit, so even a caller that skipped the checks could
not over-receive a line.

A refusal raises a `PurchaseOrderError` whose ``code`` is stable for machines and whose
message says what was wrong; nothing is written before the checks pass, and the caller's
transaction is rolled back by the raise for anything a conditional UPDATE refused.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.matching.model import POStatus
from schemas.ids import new_id
from schemas.po_api import (
    DeliveryReceiptCreate,
    PurchaseOrderAmendment,
    PurchaseOrderCreate,
)
from schemas.po_tables import (
    DeliveryReceiptRow,
    PurchaseOrderLineRow,
    PurchaseOrderRevisionRow,
    PurchaseOrderRow,
    from_e4,
    to_e4,
)
from schemas.tables import Customer
from store import audit, queries
from store.db import insert_if_absent
from store.po_amendments import apply_amendment, line_row, tolerances_json
from store.po_consumption import consume, po_exists_for_other_customer, release, snapshot
from store.po_errors import (
    PONotFound,
    PurchaseOrderConflict,
    PurchaseOrderError,
    PurchaseOrderRefused,
)
from store.po_reads import detail, line_rows

__all__ = [
    "PONotFound",
    "PurchaseOrderConflict",
    "PurchaseOrderError",
    "PurchaseOrderRefused",
    "add_receipt",
    "amend",
    "consume",
    "create",
    "detail",
    "get",
    "list_purchase_orders",
    "lock",
    "po_exists_for_other_customer",
    "release",
    "snapshot",
]


async def create(
    session: AsyncSession, body: PurchaseOrderCreate, *, actor: str, now: datetime
) -> PurchaseOrderRow:
    """A new open PO at revision 1. Refused: an unknown customer (``unknown_customer``), a
    number the customer already uses (``po_number_taken``, race-safe: the unique key)."""
    if await session.get(Customer, body.customer_id) is None:
        raise PurchaseOrderRefused(
            "unknown_customer", f"customer {body.customer_id} does not exist"
        )
    po_id = new_id("po")
    inserted = await insert_if_absent(
        session,
        PurchaseOrderRow,
        id=po_id,
        customer_id=body.customer_id,
        number=body.number,
        currency=body.currency,
        status=POStatus.OPEN.value,
        match_mode=body.match_mode.value,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        revision=1,
        tolerances=tolerances_json(body.tolerances),
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    if not inserted:
        raise PurchaseOrderConflict(
            "po_number_taken",
            f"customer {body.customer_id} already has a purchase order numbered {body.number!r}",
        )
    session.add_all([line_row(po_id, line) for line in body.lines])
    created = body.model_dump(mode="json", exclude={"customer_id", "created_by"})
    session.add(
        PurchaseOrderRevisionRow(
            po_id=po_id, revision=1, changes={"created": created}, actor=actor, at=now
        )
    )
    await session.flush()
    await audit.record(
        session,
        step_key=f"{po_id}:r1",
        entity="purchase_order",
        action="purchase_order.created",
        actor=actor,
        at=now,
        data={"po_id": po_id, "customer_id": body.customer_id, "number": body.number},
    )
    row = await session.get(PurchaseOrderRow, po_id)
    assert row is not None
    return row


async def get(session: AsyncSession, po_id: str) -> PurchaseOrderRow | None:
    return await session.get(PurchaseOrderRow, po_id)


async def lock(
    session: AsyncSession, po_id: str, *, exclusive: bool, customer_id: str | None = None
) -> PurchaseOrderRow:
    """The PO row, locked until the transaction ends (FOR UPDATE when ``exclusive``, else
    FOR SHARE; SQLite has its write lock already), read fresh. Refused: an unknown PO,
    or one that is not ``customer_id``'s when that is given."""
    query = select(PurchaseOrderRow).where(PurchaseOrderRow.id == po_id)
    query = query.with_for_update(read=not exclusive).execution_options(populate_existing=True)
    row = (await session.exec(query)).first()
    if row is None:
        raise PONotFound("not_found", f"purchase order {po_id} does not exist")
    if customer_id is not None and row.customer_id != customer_id:
        raise PurchaseOrderRefused(
            "po_of_another_customer",
            f"purchase order {po_id} ({row.number}) belongs to another customer,"
            f" not to {customer_id}",
        )
    return row


def _require_open(po: PurchaseOrderRow, what: str) -> None:
    if po.status != POStatus.OPEN.value:
        raise PurchaseOrderConflict(
            "po_closed",
            f"purchase order {po.number} is {po.status}: it takes no {what}",
        )


async def amend(
    session: AsyncSession, po_id: str, body: PurchaseOrderAmendment, *, now: datetime
) -> tuple[PurchaseOrderRow, bool]:
    """Apply one amendment as the next revision; True if it changed anything (an amendment
    that leaves the PO as it is makes no revision). Refused: unknown PO, a PO of another
    customer, a closed or cancelled PO (``po_closed``), an added line number the PO has
    (``duplicate_line_number``), a changed line it lacks (``unknown_line``), a quantity
    below what is invoiced or received (``quantity_below_used``), a valid_to that does not
    extend the validity (``validity_not_extended``)."""
    po = await lock(session, po_id, exclusive=True, customer_id=body.customer_id)
    _require_open(po, "amendments")
    lines = {line.line_number: line for line in await line_rows(session, po_id, fresh=True)}
    changes = apply_amendment(po, lines, body)
    if not changes:
        return po, False
    changes["reason"] = body.reason
    session.add_all([line_row(po_id, line) for line in body.add_lines])
    po.revision += 1
    po.updated_at = now
    session.add(po)
    session.add(
        PurchaseOrderRevisionRow(
            po_id=po_id, revision=po.revision, changes=changes, actor=body.changed_by, at=now
        )
    )
    await session.flush()
    await audit.record(
        session,
        step_key=f"{po_id}:r{po.revision}",
        entity="purchase_order",
        action="purchase_order.amended",
        actor=body.changed_by,
        at=now,
        data={"po_id": po_id, "revision": po.revision, "changes": changes},
    )
    return po, True


async def add_receipt(
    session: AsyncSession, po_id: str, body: DeliveryReceiptCreate, *, actor: str, now: datetime
) -> bool:
    """Record what was delivered against each line named; True if anything was new (a
    reference and line already recorded with the same quantity, date and kind is the same
    record). Refused: unknown PO, a PO of another customer, a closed or cancelled PO
    (``po_closed``), a line the PO lacks (``unknown_line``), the same reference and line
    with other figures (``receipt_reference_used``), and more than a line's ordered
    quantity, earlier receipts included, unless the line allows over-delivery
    (``over_delivery``)."""
    po = await lock(session, po_id, exclusive=False, customer_id=body.customer_id)
    _require_open(po, "delivery records")
    lines = {line.line_number: line for line in await line_rows(session, po_id, fresh=True)}
    unknown = sorted({item.line_number for item in body.lines} - set(lines))
    if unknown:
        raise PurchaseOrderRefused(
            "unknown_line", f"purchase order {po.number} has no line {_listed(unknown)}"
        )
    existing = await _receipts_of(session, po_id, body.reference)
    new = []
    for item in body.lines:
        quantity_e4 = to_e4(item.quantity)
        earlier = existing.get(item.line_number)
        if earlier is None:
            new.append((item.line_number, quantity_e4))
        elif (earlier.quantity_e4, earlier.delivered_on, earlier.kind) != (
            quantity_e4,
            body.delivered_on,
            body.kind.value,
        ):
            raise PurchaseOrderConflict(
                "receipt_reference_used",
                f"{body.reference!r} is already recorded for line {item.line_number} with"
                f" {from_e4(earlier.quantity_e4)} on {earlier.delivered_on} ({earlier.kind});"
                " send a new reference for another delivery",
            )
    for line_number, quantity_e4 in new:
        _check_delivery(po, lines[line_number], quantity_e4)
    for line_number, quantity_e4 in new:
        receipt_id = new_id("rcp")
        inserted = await insert_if_absent(
            session,
            DeliveryReceiptRow,
            id=receipt_id,
            po_id=po_id,
            line_number=line_number,
            quantity_e4=quantity_e4,
            delivered_on=body.delivered_on,
            reference=body.reference,
            kind=body.kind.value,
            actor=actor,
            at=now,
        )
        if not inserted:  # the same receipt, recorded a moment ago by a concurrent request
            raise PurchaseOrderConflict(
                "receipt_reference_used",
                f"{body.reference!r} for line {line_number} was recorded meanwhile; read the"
                " purchase order and send again if it is another delivery",
            )
        if not await _add_received(session, po_id, line_number, quantity_e4):
            raise _overtaken(po, line_number, quantity_e4)
        await audit.record(
            session,
            step_key=f"{po_id}:receipt:{receipt_id}",
            entity="purchase_order",
            action="purchase_order.delivery_recorded",
            actor=actor,
            at=now,
            data={
                "po_id": po_id,
                "line_number": line_number,
                "quantity": str(from_e4(quantity_e4)),
                "reference": body.reference,
                "kind": body.kind.value,
            },
        )
    return bool(new)


async def _receipts_of(
    session: AsyncSession, po_id: str, reference: str
) -> dict[int, DeliveryReceiptRow]:
    rows = await session.exec(
        select(DeliveryReceiptRow).where(
            DeliveryReceiptRow.po_id == po_id, DeliveryReceiptRow.reference == reference
        )
    )
    return {row.line_number: row for row in rows}


def _check_delivery(po: PurchaseOrderRow, line: PurchaseOrderLineRow, quantity_e4: int) -> None:
    if line.allow_over_delivery or line.received_e4 + quantity_e4 <= line.quantity_e4:
        return
    raise PurchaseOrderRefused(
        "over_delivery",
        f"line {line.line_number} of purchase order {po.number}: receiving"
        f" {from_e4(quantity_e4)} would make {from_e4(line.received_e4 + quantity_e4)}"
        f" received of {from_e4(line.quantity_e4)} ordered"
        f" ({from_e4(line.received_e4)} received before); the line does not allow"
        " over-delivery",
    )


def _overtaken(po: PurchaseOrderRow, line_number: int, quantity_e4: int) -> PurchaseOrderRefused:
    """The guard in the UPDATE refused what the check let through: a delivery for the
    same line was recorded between the two."""
    return PurchaseOrderRefused(
        "over_delivery",
        f"line {line_number} of purchase order {po.number}: another delivery was recorded"
        f" meanwhile, and receiving {from_e4(quantity_e4)} more would exceed the ordered"
        " quantity; read the purchase order and send what is still to receive",
    )


async def _add_received(session: AsyncSession, po_id: str, line_number: int, q: int) -> bool:
    """received_e4 += q, unless that crosses the ordered quantity of a line that does not
    allow over-delivery: the guard is in the UPDATE itself."""
    lines = PurchaseOrderLineRow
    statement = (
        update(lines)
        .where(
            col(lines.po_id) == po_id,
            col(lines.line_number) == line_number,
            or_(
                col(lines.allow_over_delivery),
                col(lines.received_e4) + q <= col(lines.quantity_e4),
            ),
        )
        .values(received_e4=col(lines.received_e4) + q)
        .execution_options(synchronize_session=False, preserve_rowcount=True)
    )
    result = await (await session.connection()).execute(statement)
    return bool(result.rowcount)


def _listed(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


async def list_purchase_orders(
    session: AsyncSession,
    *,
    customer_id: str | None,
    status: POStatus | None,
    number: str | None,
    limit: int,
    offset: int,
) -> tuple[list[PurchaseOrderRow], int]:
    """Purchase orders, newest first."""
    query = select(PurchaseOrderRow)
    if customer_id:
        query = query.where(PurchaseOrderRow.customer_id == customer_id)
    if status:
        query = query.where(PurchaseOrderRow.status == status.value)
    if number:
        query = query.where(PurchaseOrderRow.number == number)
    order = (col(PurchaseOrderRow.created_at).desc(), col(PurchaseOrderRow.id))
    return await queries.page(session, query, order, limit=limit, offset=offset)
