"""Disputes as the staff API, the portal and the report read them: the filtered list with
the invoice's number and the customer's name (one query, paged by keyset), one dispute
with its timeline, evidence and remedies, and the cases the disputes report counts.

Keyset, not offset, as in the exception queue (`store.exception_reads`): disputes open and
close while someone pages, and an offset would skip or repeat rows. The list is oldest
first by (opened_at, id); the cursor is the last row's pair, opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.disputes.model import DisputeReason
from domain.disputes.report import ReportCase
from schemas.dispute_api import (
    CreditNoteView,
    DisputeDetail,
    DisputePage,
    DisputeSummary,
    InstalmentView,
)
from schemas.dispute_tables import (
    CreditNoteRow,
    DisputeEventRow,
    DisputeEvidenceRow,
    DisputeRow,
)
from schemas.disputes import OPEN_DISPUTE_STATUSES, DisputeEventView, EvidenceSide, EvidenceView
from schemas.tables import Customer, Invoice
from store.dispute_remedies import instalments_of

_DAY = timedelta(days=1)


class InvalidCursor(ValueError):
    """A cursor this module did not give out."""


def encode_cursor(opened_at: datetime, dispute_id: str) -> str:
    raw = json.dumps([opened_at.astimezone(UTC).isoformat(), dispute_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        opened_at, last_id = json.loads(raw)
        at = datetime.fromisoformat(opened_at)
        if not isinstance(last_id, str):
            raise ValueError("id")
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as bad:
        raise InvalidCursor(cursor) from bad
    return (at if at.tzinfo else at.replace(tzinfo=UTC)), last_id


def _summary_fields(
    row: DisputeRow, invoice_number: str | None, customer_name: str | None, now: datetime
) -> dict[str, Any]:
    until = row.resolved_at or now
    return {
        **row.model_dump(
            exclude={
                "description",
                "request_id",
                "resolution_note",
                "root_cause",
            }
        ),
        "invoice_number": invoice_number,
        "customer_name": customer_name,
        "age_days": round(max((until - row.opened_at) / _DAY, 0.0), 2),
    }


async def _listed(
    session: AsyncSession, *where: Any, limit: int
) -> list[tuple[DisputeRow, str | None, str | None]]:
    query = (
        select(DisputeRow, Invoice.number, Customer.name)
        .join(Invoice, col(Invoice.id) == col(DisputeRow.invoice_id), isouter=True)
        .join(Customer, col(Customer.id) == col(DisputeRow.customer_id), isouter=True)
        .where(*where)
        .order_by(col(DisputeRow.opened_at), col(DisputeRow.id))
        .limit(limit)
    )
    return [(row, number, name) for row, number, name in await session.exec(query)]


def _statuses(status: str | Sequence[str] | None) -> list[str] | None:
    """`unresolved` stands for every status but resolved."""
    if status is None:
        return None
    wanted = [status] if isinstance(status, str) else list(status)
    if not wanted:
        return None
    expanded: list[str] = []
    for value in wanted:
        expanded.extend(OPEN_DISPUTE_STATUSES if value == "unresolved" else [str(value)])
    return list(dict.fromkeys(expanded))


async def list_disputes(
    session: AsyncSession,
    *,
    status: str | Sequence[str] | None = None,
    level: int | None = None,
    owner: str | None = None,
    reason: str | None = None,
    min_age_days: float | None = None,
    sla_breached: bool | None = None,
    customer_id: str | None = None,
    invoice_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    now: datetime | None = None,
) -> DisputePage:
    """Disputes oldest first, each filter narrowing the list; `min_age_days` keeps those
    opened at least that long ago. Raises `InvalidCursor` for a cursor not given out."""
    now = now or datetime.now(UTC)
    where: list[Any] = []
    statuses = _statuses(status)
    if statuses is not None:
        where.append(col(DisputeRow.status).in_(statuses))
    if level is not None:
        where.append(DisputeRow.level == level)
    if owner:
        where.append(DisputeRow.owner_id == owner)
    if reason:
        where.append(DisputeRow.reason == str(reason))
    if min_age_days is not None:
        where.append(col(DisputeRow.opened_at) <= now - timedelta(days=min_age_days))
    if sla_breached is not None:
        where.append(DisputeRow.sla_breached == sla_breached)
    if customer_id:
        where.append(DisputeRow.customer_id == customer_id)
    if invoice_id:
        where.append(DisputeRow.invoice_id == invoice_id)
    if cursor:
        opened_at, last_id = decode_cursor(cursor)
        where.append(
            or_(
                col(DisputeRow.opened_at) > opened_at,
                and_(col(DisputeRow.opened_at) == opened_at, col(DisputeRow.id) > last_id),
            )
        )
    rows = await _listed(session, *where, limit=limit + 1)  # one more: is there a next page
    page = rows[:limit]
    return DisputePage(
        items=[DisputeSummary(**_summary_fields(*listed, now)) for listed in page],
        limit=limit,
        next_cursor=(
            encode_cursor(page[-1][0].opened_at, page[-1][0].id) if len(rows) > limit else None
        ),
    )


async def get_dispute(session: AsyncSession, dispute_id: str) -> DisputeRow | None:
    return await session.get(DisputeRow, dispute_id)


async def events_of(
    session: AsyncSession, dispute_id: str, *, customer_view: bool = False
) -> list[DisputeEventView]:
    """The timeline, oldest first; for the customer only what is visible to them."""
    query = select(DisputeEventRow).where(DisputeEventRow.dispute_id == dispute_id)
    if customer_view:
        query = query.where(DisputeEventRow.visible_to_customer == True)  # noqa: E712 (SQL)
    query = query.order_by(col(DisputeEventRow.at), col(DisputeEventRow.id))
    return [
        DisputeEventView(
            at=e.at,
            kind=e.kind,
            actor=e.actor,
            text=e.text,
            visible_to_customer=e.visible_to_customer,
            data=e.data,
        )
        for e in await session.exec(query)
    ]


def evidence_view(row: DisputeEvidenceRow) -> EvidenceView:
    return EvidenceView(
        evidence_id=row.id,
        dispute_id=row.dispute_id,
        filename=row.filename,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        side=cast(EvidenceSide, row.side),  # checked on the way in
        added_by=row.added_by,
        added_at=row.added_at,
    )


async def evidence_of(session: AsyncSession, dispute_id: str) -> list[EvidenceView]:
    rows = await session.exec(
        select(DisputeEvidenceRow)
        .where(DisputeEvidenceRow.dispute_id == dispute_id)
        .order_by(col(DisputeEvidenceRow.added_at), col(DisputeEvidenceRow.id))
    )
    return [evidence_view(row) for row in rows]


async def find_evidence(
    session: AsyncSession, dispute_id: str, evidence_id: str
) -> DisputeEvidenceRow | None:
    """One piece of evidence, only under the dispute it belongs to."""
    row = await session.get(DisputeEvidenceRow, evidence_id)
    return row if row is not None and row.dispute_id == dispute_id else None


async def credit_notes_of(session: AsyncSession, dispute_id: str) -> list[CreditNoteView]:
    rows = await session.exec(
        select(CreditNoteRow)
        .where(CreditNoteRow.dispute_id == dispute_id)
        .order_by(col(CreditNoteRow.created_at), col(CreditNoteRow.number))
    )
    return [CreditNoteView(credit_note_id=row.id, **row.model_dump(exclude={"id"})) for row in rows]


async def dispute_detail(
    session: AsyncSession, dispute_id: str, *, now: datetime | None = None
) -> DisputeDetail | None:
    """The dispute with its timeline, evidence, credit notes and instalments."""
    found = await _listed(session, DisputeRow.id == dispute_id, limit=1)
    if not found:
        return None
    row = found[0][0]
    instalments = await instalments_of(session, row.invoice_id, row.id)
    return DisputeDetail(
        **_summary_fields(*found[0], now or datetime.now(UTC)),
        description=row.description,
        resolution_note=row.resolution_note,
        root_cause=row.root_cause,
        events=await events_of(session, dispute_id),
        evidence=await evidence_of(session, dispute_id),
        credit_notes=await credit_notes_of(session, dispute_id),
        instalments=[InstalmentView.model_validate(i, from_attributes=True) for i in instalments],
    )


async def report_rows(session: AsyncSession, start: datetime, end: datetime) -> list[ReportCase]:
    """The disputes `domain.disputes.report.summarize` counts for [start, end): those
    opened in it and those resolved in it."""
    opened = and_(col(DisputeRow.opened_at) >= start, col(DisputeRow.opened_at) < end)
    resolved = and_(
        col(DisputeRow.resolved_at).is_not(None),
        col(DisputeRow.resolved_at) >= start,
        col(DisputeRow.resolved_at) < end,
    )
    rows = await session.exec(
        select(DisputeRow).where(or_(opened, resolved)).order_by(col(DisputeRow.opened_at))
    )
    return [
        ReportCase(
            reason=DisputeReason(row.reason),
            opened_at=row.opened_at,
            resolved_at=row.resolved_at,
            # a resolution always has a level: the level it was at, if none was recorded
            resolved_level=(row.resolved_level or row.level) if row.resolved_at else None,
            sla_breached=row.sla_breached,
            credited_minor=row.credited_minor,
            written_off_minor=row.written_off_minor,
            currency=row.currency,
        )
        for row in rows
    ]
