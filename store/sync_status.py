"""An invoice's accounting sync status as the API reads it, kept by the activities the
invoice's process already runs (no workflow event is added for it).

The status derives from three records rather than living in one column, so no write can
leave it stale:

- ``refused``: a document accounting refused (`accounting_documents.status = refused`;
  a re-sync that gets it accepted rewrites the row as posted);
- ``failing``: a post that failed past the alert delay and has not landed
  (`accounting_sync_failures`, a row per post, written by the resumed post on each failed
  attempt and deleted when it lands or is refused), so with several posts failing at
  once the episode ends only with the last;
- ``synced``: the invoice's own post landed (`accounting_postings`) and nothing is
  failing or refused; ``pending``: issued, not posted yet, nothing failing.

`SyncStatus` on the workflow says the same, with one nuance: there ``synced`` waits for
a payment's post in flight (milliseconds), here it does not.

When the episode began is the alert's (`accounting_sync_episodes`: the failing post's
first try, as `SyncFailingSince`); without one (the alert not written yet) it is when
the earliest failing post gave up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.accounting_sync import SyncStatus
from schemas.invoice import InvoiceStatus
from schemas.sync_tables import AccountingDocumentRow, AccountingSyncEpisode, AccountingSyncFailure
from schemas.tables import AccountingPosting, Customer, Invoice
from store.db import insert_if_absent

# before issue accounting holds nothing of an invoice: it has no sync status
NOT_ISSUED = frozenset(
    status.value
    for status in (
        InvoiceStatus.PENDING,
        InvoiceStatus.EXCEPTION,
        InvoiceStatus.AWAITING_APPROVAL,
        InvoiceStatus.CHANGES_REQUESTED,
        InvoiceStatus.APPROVAL_EXPIRED,
        InvoiceStatus.REJECTED,
        InvoiceStatus.CANCELLED,
    )
)


# --- writes (activities.accounting_sync) -----------------------------------------------


async def post_failed(
    session: AsyncSession,
    *,
    key: str,
    invoice_id: str,
    kind: str,
    gave_up_at: datetime,
    error: str,
    now: datetime,
) -> None:
    """A resumed post's attempt failed: it is failing (its row, or its last error)."""
    error = error[:500]
    if await insert_if_absent(
        session,
        AccountingSyncFailure,
        key=key,
        invoice_id=invoice_id,
        kind=kind,
        gave_up_at=gave_up_at,
        last_error=error,
        attempts=1,
        updated_at=now,
    ):
        return
    row = await session.get(AccountingSyncFailure, key)
    if row is not None:
        row.last_error = error
        row.attempts += 1
        row.updated_at = now
        session.add(row)


async def posts_settled(session: AsyncSession, invoice_id: str, keys: Iterable[str]) -> None:
    """These posts landed (or were refused): no longer failing. With the invoice's last
    failing post its episode ends."""
    keys = list(keys)
    if keys:
        await session.exec(  # type: ignore[call-overload]
            delete(AccountingSyncFailure).where(col(AccountingSyncFailure.key).in_(keys))
        )
    left = await session.exec(
        select(func.count()).where(AccountingSyncFailure.invoice_id == invoice_id)
    )
    if left.one() == 0:
        await session.exec(  # type: ignore[call-overload]
            delete(AccountingSyncEpisode).where(col(AccountingSyncEpisode.invoice_id) == invoice_id)
        )


async def episode_alerted(
    session: AsyncSession,
    *,
    invoice_id: str,
    episode: int,
    failing_since: datetime,
    detail: str,
    now: datetime,
) -> None:
    """The alert of an episode: since when (overwrites an earlier episode's row)."""
    values: dict[str, Any] = {
        "episode": episode,
        "failing_since": failing_since,
        "detail": detail[:500],
        "alerted_at": now,
    }
    if await insert_if_absent(session, AccountingSyncEpisode, invoice_id=invoice_id, **values):
        return
    row = await session.get(AccountingSyncEpisode, invoice_id)
    if row is not None:
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)


# --- reads ------------------------------------------------------------------------------


def status_clause(status: SyncStatus) -> Any:
    """A WHERE clause on `Invoice`: the invoices whose sync status is `status`."""
    refused = exists().where(
        col(AccountingDocumentRow.invoice_id) == col(Invoice.id),
        col(AccountingDocumentRow.status) == "refused",
    )
    failing = exists().where(col(AccountingSyncFailure.invoice_id) == col(Invoice.id))
    posted = exists().where(
        col(AccountingPosting.invoice_id) == col(Invoice.id),
        col(AccountingPosting.kind) == "invoice",
    )
    if status == SyncStatus.REFUSED:
        return refused
    if status == SyncStatus.FAILING:
        return failing & ~refused
    if status == SyncStatus.SYNCED:
        return posted & ~failing & ~refused
    return col(Invoice.status).not_in(NOT_ISSUED) & ~posted & ~failing & ~refused


@dataclass(frozen=True)
class SyncDocumentIssue:
    key: str
    kind: str
    status: str  # failing | refused
    since: datetime
    detail: str | None
    attempts: int | None = None


@dataclass
class SyncIssue:
    """One invoice in the exception list: failing (a post not landing) or refused."""

    invoice_id: str
    invoice_number: str | None
    customer_id: str
    customer_name: str | None
    status: SyncStatus
    since: datetime
    last_error: str | None
    documents: list[SyncDocumentIssue] = field(default_factory=list)


async def sync_issues(
    session: AsyncSession,
    *,
    customer_id: str | None = None,
    since_before: datetime | None = None,
    after: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[SyncIssue]:
    """Invoices failing or refused, the longest-standing first, after the keyset `after`
    (since, invoice id). Gathered per invoice in Python: there are few such invoices
    (an outage of the ledger puts each open invoice here once, not each post)."""
    where: list[Any] = []
    if customer_id:
        where.append(col(Invoice.customer_id) == customer_id)
    failures = await session.exec(
        select(AccountingSyncFailure)
        .join(Invoice, col(Invoice.id) == col(AccountingSyncFailure.invoice_id))
        .where(*where)
    )
    refusals = await session.exec(
        select(AccountingDocumentRow)
        .join(Invoice, col(Invoice.id) == col(AccountingDocumentRow.invoice_id))
        .where(col(AccountingDocumentRow.status) == "refused", *where)
    )
    by_invoice: dict[str, list[tuple[SyncDocumentIssue, datetime]]] = {}
    for failure in failures:
        by_invoice.setdefault(failure.invoice_id, []).append(
            (
                SyncDocumentIssue(
                    failure.key,
                    failure.kind,
                    "failing",
                    failure.gave_up_at,
                    failure.last_error,
                    failure.attempts,
                ),
                failure.updated_at,
            )
        )
    for document in refusals:
        by_invoice.setdefault(document.invoice_id, []).append(
            (
                SyncDocumentIssue(
                    document.key, document.kind, "refused", document.updated_at, document.detail
                ),
                document.updated_at,
            )
        )
    if not by_invoice:
        return []
    ids = list(by_invoice)
    episodes = {
        e.invoice_id: e
        for e in await session.exec(
            select(AccountingSyncEpisode).where(col(AccountingSyncEpisode.invoice_id).in_(ids))
        )
    }
    invoices = {
        invoice.id: (invoice, name)
        for invoice, name in await session.exec(
            select(Invoice, Customer.name)
            .join(Customer, col(Customer.id) == col(Invoice.customer_id), isouter=True)
            .where(col(Invoice.id).in_(ids))
        )
    }
    issues: list[SyncIssue] = []
    for invoice_id, found in by_invoice.items():
        invoice, customer_name = invoices[invoice_id]
        documents = [document for document, _ in found]
        episode = episodes.get(invoice_id)
        since = min(document.since for document in documents)
        if episode is not None and any(d.status == "failing" for d in documents):
            since = min(since, episode.failing_since)
        latest = max(found, key=lambda pair: pair[1])[0]
        refused = any(d.status == "refused" for d in documents)
        issues.append(
            SyncIssue(
                invoice_id=invoice_id,
                invoice_number=invoice.number,
                customer_id=invoice.customer_id,
                customer_name=customer_name,
                status=SyncStatus.REFUSED if refused else SyncStatus.FAILING,
                since=since,
                last_error=latest.detail or (episode.detail if episode else None),
                documents=sorted(documents, key=lambda d: (d.since, d.key)),
            )
        )
    issues.sort(key=lambda issue: (issue.since, issue.invoice_id))
    if since_before is not None:
        issues = [issue for issue in issues if issue.since <= since_before]
    if after is not None:
        issues = [issue for issue in issues if (issue.since, issue.invoice_id) > after]
    return issues[:limit]
