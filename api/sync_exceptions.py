"""The exception list's accounting-sync kind (`GET /exceptions?kind=accounting_sync`): the
invoices whose posts are failing past the alert delay, or that accounting refused, from
`store.sync_status`, paged by keyset on (since, invoice id) as the PO queue is.

Of the PO queue's filters only `customer_id` and `min_age_hours` (failing at least this
long) mean something here; the others are refused rather than ignored, so an operator who
filters by owner does not take an unfiltered list for an empty one.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import Unprocessable
from schemas.sync_exception_api import (
    Link,
    SyncDocumentOut,
    SyncExceptionPage,
    SyncExceptionSummary,
)
from store.sync_status import SyncIssue, sync_issues


def _cursor(issue: SyncIssue) -> str:
    raw = json.dumps([issue.since.isoformat(), issue.invoice_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def refuse_po_filters(**given: object) -> None:
    named = sorted(name for name, value in given.items() if value is not None)
    if named:
        raise Unprocessable(
            f"{', '.join(named)} filter(s) the PO exception queue, not kind=accounting_sync"
            " (which takes customer_id, min_age_hours, limit and cursor)",
            code="filter_not_for_kind",
        )


def summary(issue: SyncIssue) -> SyncExceptionSummary:
    return SyncExceptionSummary(
        invoice_id=issue.invoice_id,
        invoice_number=issue.invoice_number,
        customer_id=issue.customer_id,
        customer_name=issue.customer_name,
        sync_status="refused" if issue.status == "refused" else "failing",
        failing_since=issue.since,
        last_error=issue.last_error,
        documents=[
            SyncDocumentOut(
                key=d.key,
                kind=d.kind,
                status="refused" if d.status == "refused" else "failing",
                since=d.since,
                detail=d.detail,
                attempts=d.attempts,
            )
            for d in issue.documents
        ],
        resync=Link(href=f"/invoices/{issue.invoice_id}/resync"),
    )


async def sync_page(
    session: AsyncSession,
    *,
    now: datetime,
    customer_id: str | None,
    min_age_hours: float | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> SyncExceptionPage:
    issues = await sync_issues(
        session,
        customer_id=customer_id,
        since_before=now - timedelta(hours=min_age_hours) if min_age_hours is not None else None,
        after=after,
        limit=limit + 1,  # one more tells whether there is a next page
    )
    page = issues[:limit]
    return SyncExceptionPage(
        items=[summary(issue) for issue in page],
        limit=limit,
        next_cursor=_cursor(page[-1]) if len(issues) > limit else None,
    )
