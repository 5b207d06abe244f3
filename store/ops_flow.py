"""Flow figures for the ops dashboard, over a period [start, end): how long invoices and
disputes take, who resolves disputes, and what failed on which day.

Each cycle is counted in the period its **end** falls in, from these records:

- generation → issue: the invoice's `created_at` (accepted and generated) to its first
  delivery to the customer (`deliveries`, purpose "issue": the moment it was issued to
  them, after any PO match and approval);
- issue → paid: that first delivery to the last payment of an invoice that has nothing
  left to pay (status PAID or CLOSED, balance 0, at least one payment);
- dispute intake → resolution: `opened_at` to `resolved_at` of a resolved dispute.

Delivery failures are channel tries that did not send (`delivery_attempts` outcome
refused or unavailable); accounting sync failures are posts that failed past the alert
delay (`accounting_sync_failures.gave_up_at`) and documents accounting refused
(`accounting_documents` status refused, by `updated_at`). Days are UTC days.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.receivables import percentile
from schemas.delivery_tables import DeliveryAttemptRow
from schemas.dispute_tables import DisputeRow
from schemas.invoice import InvoiceStatus
from schemas.sync_tables import AccountingDocumentRow, AccountingSyncFailure
from schemas.tables import Delivery, Invoice, Payment
from store.queries import balance_of

FAILED_OUTCOMES = ("refused", "unavailable")
_SETTLED = [InvoiceStatus.PAID.value, InvoiceStatus.CLOSED.value]


@dataclass(frozen=True)
class Cycle:
    """One measured cycle: which record, and how long in hours."""

    ref: str  # the invoice's number (or id), the dispute's number
    hours: float


@dataclass
class Distribution:
    name: str
    cycles: list[Cycle] = field(default_factory=list)

    @property
    def hours(self) -> list[float]:
        return [c.hours for c in self.cycles]

    @property
    def count(self) -> int:
        return len(self.cycles)

    @property
    def median_hours(self) -> float | None:
        return percentile(self.hours, 0.5)

    @property
    def p90_hours(self) -> float | None:
        return percentile(self.hours, 0.9)


@dataclass(frozen=True)
class DayFailures:
    day: date
    delivery: dict[str, int]  # by channel
    accounting_gave_up: int
    accounting_refused: int

    @property
    def delivery_total(self) -> int:
        return sum(self.delivery.values())


@dataclass(frozen=True)
class FlowReport:
    start: datetime
    end: datetime
    generation_to_issue: Distribution
    issue_to_paid: Distribution
    dispute_resolution: Distribution
    resolved_by_level: dict[int, int]  # disputes resolved in the period, by level
    failures: list[DayFailures]  # days with any failure, in order

    @property
    def disputes_resolved(self) -> int:
        return sum(self.resolved_by_level.values())


def _hours(since: datetime, until: datetime) -> float:
    return (until - since).total_seconds() / 3600


def _in(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


async def _first_issue_delivery(session: AsyncSession) -> dict[str, datetime]:
    query = (
        select(Delivery.invoice_id, func.min(Delivery.sent_at))
        .where(col(Delivery.purpose) == "issue", col(Delivery.status) == "sent")
        .group_by(col(Delivery.invoice_id))
    )
    # func.min keeps the column's type: aware UTC datetimes on both engines
    return {invoice_id: at for invoice_id, at in (await session.exec(query)).all()}


async def _invoice_cycles(
    session: AsyncSession, start: datetime, end: datetime
) -> tuple[Distribution, Distribution]:
    issued = await _first_issue_delivery(session)
    to_issue, to_paid = Distribution("generation_to_issue"), Distribution("issue_to_paid")
    if not issued:
        return to_issue, to_paid
    invoices = (await session.exec(select(Invoice).where(col(Invoice.id).in_(list(issued))))).all()
    last_paid: dict[str, datetime] = {}
    settled = [i.id for i in invoices if i.status in _SETTLED and balance_of(i) <= 0]
    if settled:
        query = select(Payment.invoice_id, Payment.paid_at).where(
            col(Payment.invoice_id).in_(settled)
        )
        for invoice_id, paid_at in (await session.exec(query)).all():
            if invoice_id not in last_paid or paid_at > last_paid[invoice_id]:
                last_paid[invoice_id] = paid_at
    for invoice in sorted(invoices, key=lambda i: i.id):
        ref = invoice.number or invoice.id
        at = issued[invoice.id]
        if _in(at, start, end):
            to_issue.cycles.append(Cycle(ref, _hours(invoice.created_at, at)))
        paid = last_paid.get(invoice.id)
        if paid is not None and _in(paid, start, end):
            to_paid.cycles.append(Cycle(ref, _hours(at, paid)))
    return to_issue, to_paid


async def _disputes(
    session: AsyncSession, start: datetime, end: datetime
) -> tuple[Distribution, dict[int, int]]:
    query = select(DisputeRow).where(
        col(DisputeRow.resolved_at).is_not(None),
        col(DisputeRow.resolved_at) >= start,
        col(DisputeRow.resolved_at) < end,
    )
    resolution = Distribution("dispute_resolution")
    levels: Counter[int] = Counter()
    for row in sorted((await session.exec(query)).all(), key=lambda r: r.number):
        assert row.resolved_at is not None
        resolution.cycles.append(Cycle(row.number, _hours(row.opened_at, row.resolved_at)))
        levels[row.resolved_level or row.level] += 1
    return resolution, dict(sorted(levels.items()))


async def _failures(session: AsyncSession, start: datetime, end: datetime) -> list[DayFailures]:
    delivery: dict[date, Counter[str]] = {}
    tries = select(DeliveryAttemptRow.at, DeliveryAttemptRow.channel).where(
        col(DeliveryAttemptRow.outcome).in_(FAILED_OUTCOMES),
        col(DeliveryAttemptRow.at) >= start,
        col(DeliveryAttemptRow.at) < end,
    )
    for at, channel in (await session.exec(tries)).all():
        delivery.setdefault(at.date(), Counter())[channel] += 1
    gave_up: Counter[date] = Counter()
    failures = select(AccountingSyncFailure.gave_up_at).where(
        col(AccountingSyncFailure.gave_up_at) >= start, col(AccountingSyncFailure.gave_up_at) < end
    )
    for at in (await session.exec(failures)).all():
        gave_up[at.date()] += 1
    refused: Counter[date] = Counter()
    documents = select(AccountingDocumentRow.updated_at).where(
        col(AccountingDocumentRow.status) == "refused",
        col(AccountingDocumentRow.updated_at) >= start,
        col(AccountingDocumentRow.updated_at) < end,
    )
    for at in (await session.exec(documents)).all():
        refused[at.date()] += 1
    days = sorted(set(delivery) | set(gave_up) | set(refused))
    return [
        DayFailures(
            day, dict(sorted(delivery.get(day, Counter()).items())), gave_up[day], refused[day]
        )
        for day in days
    ]


async def flow(session: AsyncSession, start: datetime, end: datetime) -> FlowReport:
    to_issue, to_paid = await _invoice_cycles(session, start, end)
    resolution, levels = await _disputes(session, start, end)
    return FlowReport(
        start, end, to_issue, to_paid, resolution, levels, await _failures(session, start, end)
    )
