"""Dispute records as the dispute process's activities write them: the case (numbered
DSP-YYYY-NNNN at intake), its timeline and its evidence. The remedies that change the
invoice (credit notes, write-offs, payment-plan instalments) are in
`store.dispute_remedies` and re-exported here, so activities import one module.

Every write is idempotent, keyed so that a retried activity writes once: a dispute by its
intake's `request_id` (its id follows from it), an event by its `event_key`, evidence by
(dispute, SHA-256). The DSP number is allocated in the transaction that stores the
dispute, inside a savepoint rolled back when a concurrent repeat of the same request
stored it first, so neither a retry nor a race leaves a gap in the series.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.dispute_tables import DisputeEventRow, DisputeEvidenceRow, DisputeRow
from schemas.disputes import OPEN_DISPUTE_STATUSES, DisputeStatus
from schemas.ids import idempotent_id, new_id
from store import audit, numbering
from store.db import insert_if_absent
from store.dispute_remedies import (
    CREDIT_NOTE_SERIES,
    SETTLEMENTS,
    NotCreditable,
    insert_instalments,
    instalments_of,
    issue_credit_note,
    record_write_off,
    set_credit_note_refund,
    update_instalment,
)

__all__ = [
    "CREDIT_NOTE_SERIES",
    "DISPUTE_SERIES",
    "EVENT_KINDS",
    "SETTLEMENTS",
    "NotCreditable",
    "add_event",
    "add_evidence",
    "dispute_id_for",
    "insert_dispute",
    "insert_instalments",
    "instalments_of",
    "issue_credit_note",
    "open_disputes",
    "record_write_off",
    "set_credit_note_refund",
    "update_dispute",
    "update_instalment",
]

DISPUTE_SERIES = "DSP"

EVENT_KINDS = frozenset(
    {
        "opened",
        "owner_assigned",
        "escalated",
        "sla_breached",
        "information_requested",
        "customer_replied",
        "no_answer",  # the customer's deadline passed without an answer
        "resumed",  # back with the owner after a wait on the customer (SLA due moved)
        "note",
        "evidence_added",
        "remedy_proposed",
        "approval_requested",
        "approved",
        "approval_rejected",
        "remedy_accepted",
        "remedy_declined",
        "resolved",
    }
)
_UPDATABLE = frozenset(DisputeRow.model_fields) - {"id", "number", "request_id", "invoice_id"}


def dispute_id_for(request_id: str) -> str:
    """The id of the dispute an intake opens: known before the dispute is stored, so the
    portal can file a customer's attachments under it while the intake is on its way."""
    return idempotent_id("dsp", request_id)


async def _one(session: AsyncSession, query: Any) -> Any:
    return (await session.exec(query.execution_options(populate_existing=True))).first()


async def insert_dispute(
    session: AsyncSession,
    *,
    request_id: str,
    invoice_id: str,
    customer_id: str,
    currency: str,
    reason: str,
    description: str,
    lines: Sequence[int],
    amount_minor: int,
    level: int,
    channel: str,
    opened_by: str,
    opened_at: datetime,
) -> tuple[DisputeRow, bool]:
    """Store the dispute with its number, or find the one this request stored already
    (then no number is taken). True when this call stored it."""
    by_request = select(DisputeRow).where(DisputeRow.request_id == request_id)
    existing = await _one(session, by_request)
    if existing is not None:
        return existing, False
    savepoint = await session.begin_nested()
    try:
        series = numbering.series_for(DISPUTE_SERIES, opened_at.year)
        number = await numbering.allocate(session, series)
        created = await insert_if_absent(
            session,
            DisputeRow,
            id=dispute_id_for(request_id),
            number=number,
            invoice_id=invoice_id,
            customer_id=customer_id,
            currency=currency,
            status=DisputeStatus.OPEN.value,
            reason=str(reason),
            description=description,
            lines=list(lines),
            original_amount_minor=amount_minor,
            disputed_minor=amount_minor,
            credited_minor=0,
            written_off_minor=0,
            level=level,
            sla_breached=False,
            channel=channel,
            opened_by=opened_by,
            request_id=request_id,
            opened_at=opened_at,
            updated_at=opened_at,
        )
    except BaseException:
        await savepoint.rollback()
        raise
    if not created:  # a concurrent repeat of this request stored it first
        await savepoint.rollback()
        return await _one(session, by_request), False
    await audit.record(
        session,
        step_key=f"{dispute_id_for(request_id)}:opened",
        invoice_id=invoice_id,
        entity="dispute",
        action="dispute.opened",
        actor=opened_by,
        data={"dispute_id": dispute_id_for(request_id), "number": number, "reason": str(reason)},
        at=opened_at,
    )
    await savepoint.commit()
    return await _one(session, by_request), True


async def open_disputes(session: AsyncSession, invoice_id: str) -> list[DisputeRow]:
    """The invoice's disputes that are not resolved, oldest first."""
    rows = await session.exec(
        select(DisputeRow)
        .where(
            DisputeRow.invoice_id == invoice_id,
            col(DisputeRow.status).in_(OPEN_DISPUTE_STATUSES),
        )
        .order_by(col(DisputeRow.opened_at), col(DisputeRow.id))
    )
    return list(rows)


async def add_event(
    session: AsyncSession,
    *,
    dispute_id: str,
    event_key: str,
    at: datetime,
    kind: str,
    actor: str,
    text: str,
    visible_to_customer: bool,
    data: dict[str, Any] | None = None,
) -> bool:
    """Append to the dispute's timeline once per `event_key`; True if it was new."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown dispute event kind {kind!r}")
    return await insert_if_absent(
        session,
        DisputeEventRow,
        dispute_id=dispute_id,
        event_key=event_key,
        at=at,
        kind=kind,
        actor=actor,
        text=text,
        visible_to_customer=visible_to_customer,
        data=data or {},
    )


async def update_dispute(
    session: AsyncSession, dispute_id: str, **fields: Any
) -> DisputeRow | None:
    """Set fields of the dispute to values (a repeat changes nothing); `updated_at`
    defaults to now. None if there is no such dispute."""
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise ValueError(f"not a dispute field that changes: {sorted(unknown)}")
    row = await session.get(DisputeRow, dispute_id)
    if row is None:
        return None
    fields.setdefault("updated_at", datetime.now(UTC))
    for name, value in fields.items():
        setattr(row, name, value)
    session.add(row)
    await session.flush()
    return row


async def add_evidence(
    session: AsyncSession,
    *,
    dispute_id: str,
    sha256: str,
    size: int,
    media_type: str,
    filename: str,
    side: str,
    added_by: str,
    added_at: datetime,
) -> tuple[DisputeEvidenceRow, bool]:
    """File evidence under the dispute; the same file (by SHA-256) again is the row
    already there. True when this call added it."""
    if side not in ("customer", "staff"):
        raise ValueError(f"evidence side is customer or staff, not {side!r}")
    created = await insert_if_absent(
        session,
        DisputeEvidenceRow,
        id=new_id("evd"),
        dispute_id=dispute_id,
        sha256=sha256,
        size=size,
        media_type=media_type,
        filename=filename,
        side=side,
        added_by=added_by,
        added_at=added_at,
    )
    row = await _one(
        session,
        select(DisputeEvidenceRow).where(
            DisputeEvidenceRow.dispute_id == dispute_id, DisputeEvidenceRow.sha256 == sha256
        ),
    )
    return row, created
