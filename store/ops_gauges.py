"""The figures the worker's gauges report (core/metrics.py): sizes and ages read from the
database on a timer, because they are states (how many are waiting now), not events.

Every read is one aggregate query over an indexed column, so a worker can run it every
few seconds on a large database. Figures that have no rows are reported as zero rather
than left out: a gauge that disappears looks like a scrape failure on a dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.dispute_tables import DisputeRow
from schemas.disputes import OPEN_DISPUTE_STATUSES
from schemas.exception_tables import InvoiceExceptionRow
from schemas.invoice import InvoiceStatus
from schemas.sync_tables import AccountingDocumentRow, AccountingSyncEpisode, AccountingSyncFailure
from schemas.tables import Invoice


@dataclass(frozen=True)
class OpsFigures:
    invoices_by_status: dict[str, int] = field(default_factory=dict)
    po_exceptions_open: int = 0
    disputes_by_status: dict[str, int] = field(default_factory=dict)
    disputes_sla_breached: int = 0
    accounting_sync_failing_invoices: int = 0
    # how long the oldest post still failing past the alert delay has been behind
    accounting_sync_lag_s: float = 0.0
    accounting_refused_documents: int = 0


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def read(session: AsyncSession, now: datetime) -> OpsFigures:
    by_status = {status.value: 0 for status in InvoiceStatus}
    rows = await session.exec(
        select(Invoice.status, func.count()).group_by(Invoice.status)  # type: ignore[call-overload]
    )
    for status, count in rows:
        by_status[status] = count
    disputes = {status: 0 for status in OPEN_DISPUTE_STATUSES}
    rows = await session.exec(
        select(DisputeRow.status, func.count())  # type: ignore[call-overload]
        .where(col(DisputeRow.status).in_(OPEN_DISPUTE_STATUSES))
        .group_by(DisputeRow.status)
    )
    for status, count in rows:
        disputes[status] = count
    breached = await _count(
        session,
        select(func.count()).where(
            col(DisputeRow.status).in_(OPEN_DISPUTE_STATUSES), col(DisputeRow.sla_breached)
        ),
    )
    exceptions = await _count(
        session, select(func.count()).where(col(InvoiceExceptionRow.status) == "open")
    )
    failing = await _count(
        session, select(func.count(func.distinct(AccountingSyncFailure.invoice_id)))
    )
    refused = await _count(
        session, select(func.count()).where(col(AccountingDocumentRow.status) == "refused")
    )
    return OpsFigures(
        invoices_by_status=by_status,
        po_exceptions_open=exceptions,
        disputes_by_status=disputes,
        disputes_sla_breached=breached,
        accounting_sync_failing_invoices=failing,
        accounting_sync_lag_s=await _sync_lag(session, now) if failing else 0.0,
        accounting_refused_documents=refused,
    )


async def _count(session: AsyncSession, statement: object) -> int:
    value = (await session.exec(statement)).one()  # type: ignore[call-overload]
    return int(value or 0)


async def _sync_lag(session: AsyncSession, now: datetime) -> float:
    """From the earliest moment a still-failing post is known to have been failing: its
    episode's first try where the alert has been written, else when it gave up."""
    since = (
        await session.exec(
            select(func.min(AccountingSyncEpisode.failing_since)).where(
                col(AccountingSyncEpisode.invoice_id).in_(select(AccountingSyncFailure.invoice_id))
            )
        )
    ).one()
    gave_up = (await session.exec(select(func.min(AccountingSyncFailure.gave_up_at)))).one()
    known = [_aware(moment) for moment in (since, gave_up) if moment is not None]
    return max(0.0, (now - min(known)).total_seconds()) if known else 0.0
