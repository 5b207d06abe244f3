"""The audit trail read as an outbox: new rows become public events and deliveries.

Why not ``WHERE id > cursor``: ids are taken at INSERT and become visible at COMMIT, and
on PostgreSQL two transactions can commit in the other order (id 11 visible, id 10 still
in flight). A plain cursor moved to 11 would skip 10 for ever. So the cursor keeps the
highest id read *and* the ids below it that were missing when it passed them (`gaps`).
Every read looks for the gaps again; a gap found is fanned out like any row, a gap still
missing after `settle` is dropped (a rolled-back transaction, or a sequence value
PostgreSQL skipped: those never appear). Gaps are rare and few, so this costs one
indexed ``IN`` per read, not a re-scan of a time window. A transaction that holds an
audit row uncommitted for longer than `settle` (30 s by default; the project's are
milliseconds) would be missed: that is the bound, stated.

SQLite has one writer at a time, so its ids commit in order and it never has gaps.

Fan-out is idempotent either way: events are keyed by their id (from the audit step),
deliveries by (event, endpoint), so a row read twice is sent once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col
from sqlmodel import select as select_rows
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.webhooks import PublicEvent, SourceRow, delivery_id, events_for, subscribed
from schemas.dispute_tables import DisputeEventRow, DisputeRow
from schemas.tables import AuditEvent
from schemas.webhook_tables import (
    WebhookCursorRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookEventRow,
)
from store.db import insert_if_absent

AUDIT = "audit_events"
DISPUTE_EVENTS = "dispute_events"  # a dispute's resolution is on its timeline, not the audit
SOURCES = (AUDIT, DISPUTE_EVENTS)
# a jump in ids longer than this (a sequence moved by hand, a bulk rollback) tracks only
# its last ids as gaps: an in-flight transaction holds one of the most recent ones
MAX_GAP_RUN = 1000


def _query(source: str) -> Any:
    if source == AUDIT:
        return select(  # type: ignore[call-overload]
            AuditEvent.id,
            AuditEvent.step_key,
            AuditEvent.action,
            AuditEvent.invoice_id,
            AuditEvent.at,
            AuditEvent.data,
        )
    return select(  # type: ignore[call-overload]
        DisputeEventRow.id,
        DisputeEventRow.event_key,
        DisputeEventRow.kind,
        DisputeRow.invoice_id,
        DisputeEventRow.at,
        DisputeEventRow.data,
        DisputeRow.id.label("dispute_id"),  # type: ignore[attr-defined]
        DisputeRow.resolution,
    ).join(DisputeRow, col(DisputeRow.id) == col(DisputeEventRow.dispute_id))


def _id_column(source: str) -> Any:
    return col(AuditEvent.id) if source == AUDIT else col(DisputeEventRow.id)


def _source_row(source: str, row: Any) -> SourceRow:
    if source == AUDIT:
        return SourceRow(row.step_key, row.action, row.invoice_id, row.at, dict(row.data or {}))
    action = "dispute.resolved" if row.kind == "resolved" else f"dispute_event.{row.kind}"
    data = {**(row.data or {}), "dispute_id": row.dispute_id, "resolution": row.resolution}
    return SourceRow(row.event_key, action, row.invoice_id, row.at, data)


async def _cursor(session: AsyncSession, source: str, now: datetime) -> WebhookCursorRow:
    """The source's cursor; on the very first read, the end of the trail as it is now:
    history from before webhooks existed is not sent (no endpoint wanted it then)."""
    cursor = await session.get(WebhookCursorRow, source)
    if cursor is not None:
        return cursor
    connection = await session.connection()
    newest = (await connection.execute(select(func.max(_id_column(source))))).scalar()
    cursor = WebhookCursorRow(source=source, last_id=int(newest or 0), gaps={}, updated_at=now)
    session.add(cursor)
    return cursor


async def read_source(
    session: AsyncSession, source: str, *, batch: int, settle: timedelta, now: datetime
) -> tuple[list[SourceRow], bool]:
    """The rows of `source` not read yet (and gaps that appeared), cursor moved past them;
    True if the batch was full. Runs in the caller's transaction with the fan-out, so a
    failed fan-out leaves the cursor where it was."""
    cursor = await _cursor(session, source, now)
    id_column = _id_column(source)
    connection = await session.connection()
    fresh = list(
        await connection.execute(
            _query(source).where(id_column > cursor.last_id).order_by(id_column).limit(batch)
        )
    )
    gaps = {int(k): v for k, v in cursor.gaps.items()}
    found_gaps: list[Any] = []
    if gaps:
        found_gaps = list(await connection.execute(_query(source).where(id_column.in_(list(gaps)))))
    for row in found_gaps:
        gaps.pop(int(row.id), None)
    expected = cursor.last_id + 1
    for row in fresh:
        for missing in range(max(expected, int(row.id) - MAX_GAP_RUN), int(row.id)):
            gaps[missing] = now.isoformat()
        expected = int(row.id) + 1
    oldest = now - settle
    cursor.gaps = {
        str(k): v for k, v in gaps.items() if datetime.fromisoformat(v) > oldest
    }  # older ones never committed
    if fresh:
        cursor.last_id = int(fresh[-1].id)
    cursor.updated_at = now
    session.add(cursor)
    rows = sorted([*found_gaps, *fresh], key=lambda row: int(row.id))
    return [_source_row(source, row) for row in rows], len(fresh) >= batch


async def active_endpoints(session: AsyncSession) -> list[WebhookEndpointRow]:
    rows = await session.exec(
        select_rows(WebhookEndpointRow).where(col(WebhookEndpointRow.active).is_(True))
    )
    return list(rows)


async def fan_out(
    session: AsyncSession,
    rows: Sequence[SourceRow],
    endpoints: Sequence[WebhookEndpointRow],
    now: datetime,
) -> tuple[int, int]:
    """Write each row's public events, and a delivery per subscribed endpoint that existed
    when it happened; (new events, new deliveries)."""
    new_events = new_deliveries = 0
    for row in rows:
        for event in events_for(row):
            new_events += await _write_event(session, event, now)
            for endpoint in endpoints:
                if not subscribed(endpoint.event_types, event.type):
                    continue
                if endpoint.created_at > event.occurred_at:
                    continue  # subscribed after it happened
                new_deliveries += await insert_if_absent(
                    session,
                    WebhookDeliveryRow,
                    id=delivery_id(event.id, endpoint.id),
                    event_id=event.id,
                    endpoint_id=endpoint.id,
                    status="pending",
                    series=1,
                    started=False,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
    return new_events, new_deliveries


async def _write_event(session: AsyncSession, event: PublicEvent, now: datetime) -> bool:
    return await insert_if_absent(
        session,
        WebhookEventRow,
        id=event.id,
        type=event.type,
        invoice_id=event.invoice_id,
        source_key=event.source_key,
        occurred_at=event.occurred_at,
        payload=event.payload,
        created_at=now,
    )


async def unstarted(session: AsyncSession, limit: int) -> list[tuple[str, int]]:
    """Deliveries whose workflow is not known to be started: new, or a crash came between
    the start and its bookkeeping (starting again is harmless: the id is taken)."""
    connection = await session.connection()
    rows = await connection.execute(
        select(WebhookDeliveryRow.id, WebhookDeliveryRow.series)  # type: ignore[call-overload]
        .where(col(WebhookDeliveryRow.started).is_(False))
        .order_by(col(WebhookDeliveryRow.created_at))
        .limit(limit)
    )
    return [(row.id, row.series) for row in rows]


async def mark_started(session: AsyncSession, ids: Sequence[str]) -> None:
    if not ids:
        return
    rows = await session.exec(
        select_rows(WebhookDeliveryRow).where(col(WebhookDeliveryRow.id).in_(list(ids)))
    )
    for row in rows:
        row.started = True
        row.updated_at = datetime.now(UTC)
        session.add(row)
