"""The PO exception queue for upstream apps: list it with filters, read one exception with
its lines beside their PO lines, and resolve one (the `resolve_exception` update). The
same list with ``kind=accounting_sync`` shows the invoices accounting does not hold as it
should (`api.sync_exceptions`); without `kind` it is the PO queue, as before.

Resolutions made here and on the review page (`api.routes.exception_review`) go through
the same update and the same refusal mapping (`api.exception_actions`), so a refusal is
the same code in both places.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Query

from api.corrections import check_correction
from api.deps import ApiKeyDep, OptionalTemporalDep, SessionDep, temporal_unavailable
from api.errors import NotFoundError, Unprocessable
from api.exception_actions import closed_refusal, resolve
from api.exception_view import detail, summary
from api.openapi import problems
from api.sync_exceptions import refuse_po_filters, sync_page
from domain.matching.model import MatchReasonCode
from schemas.exception_api import (
    ExceptionDetail,
    ExceptionPage,
    ExceptionStatus,
    ResolutionBody,
    ResolutionOut,
)
from schemas.matching import ResolveExceptionInput
from schemas.sync_exception_api import SyncExceptionPage
from store.exception_reads import ListedException, get_exception, list_exceptions

router = APIRouter(prefix="/exceptions", tags=["exceptions"])
log = structlog.get_logger()

MAX_AGE_HOURS = 24 * 365 * 10


def _cursor(listed: ListedException) -> str:
    raw = json.dumps([listed.row.opened_at.isoformat(), listed.row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        opened_at, last_id = json.loads(raw)
        at = datetime.fromisoformat(opened_at)
        if not isinstance(last_id, str):
            raise ValueError("id")
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as bad:
        raise Unprocessable(
            "cursor is not one this API gave out: pass next_cursor as it came",
            code="invalid_cursor",
        ) from bad
    return (at if at.tzinfo else at.replace(tzinfo=UTC)), last_id


@router.get(
    "",
    response_model=ExceptionPage | SyncExceptionPage,
    responses=problems(
        s422="Invalid input (`validation_failed`), a cursor not given out"
        " (`invalid_cursor`), or a PO filter with kind=accounting_sync"
        " (`filter_not_for_kind`)"
    ),
)
async def list_queue(
    session: SessionDep,
    _: ApiKeyDep,
    kind: Annotated[
        Literal["po_match", "accounting_sync"],
        Query(
            description="po_match: the PO exception queue (ExceptionPage); accounting_sync:"
            " invoices whose accounting posts are failing past the alert delay or were"
            " refused, longest first (SyncExceptionPage)"
        ),
    ] = "po_match",
    status: ExceptionStatus = "open",
    reason: Annotated[
        MatchReasonCode | None, Query(description="exceptions with this reason among theirs")
    ] = None,
    owner: Annotated[str | None, Query(max_length=200, description="the owner's id")] = None,
    customer_id: Annotated[str | None, Query(max_length=100)] = None,
    min_age_hours: Annotated[
        float | None, Query(ge=0, le=MAX_AGE_HOURS, description="opened at least this long ago")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500, description="next_cursor")] = None,
) -> ExceptionPage | SyncExceptionPage:
    """The queue, oldest first; each exception with its reasons, owner and deadlines. With
    kind=accounting_sync: each invoice failing or refused, since when, the last error,
    its documents and the re-sync to ask for."""
    now = datetime.now(UTC)
    if kind == "accounting_sync":
        # a sync exception is open while it lists: resolved ones are not kept
        refuse_po_filters(status=None if status == "open" else status, reason=reason, owner=owner)
        return await sync_page(
            session,
            now=now,
            customer_id=customer_id,
            min_age_hours=min_age_hours,
            after=_after(cursor) if cursor else None,
            limit=limit,
        )
    rows = await list_exceptions(
        session,
        status=status,
        reason=reason.value if reason else None,
        owner_id=owner,
        customer_id=customer_id,
        opened_before=now - timedelta(hours=min_age_hours) if min_age_hours is not None else None,
        after=_after(cursor) if cursor else None,
        limit=limit + 1,  # one more tells whether there is a next page
    )
    page = rows[:limit]
    return ExceptionPage(
        items=[summary(listed, now) for listed in page],
        limit=limit,
        next_cursor=_cursor(page[-1]) if len(rows) > limit else None,
    )


async def _found(session: SessionDep, exception_id: str) -> ListedException:
    listed = await get_exception(session, exception_id)
    if listed is None:
        raise NotFoundError(f"exception {exception_id} does not exist")
    return listed


@router.get("/{exception_id}", response_model=ExceptionDetail)
async def get_one(exception_id: str, session: SessionDep, _: ApiKeyDep) -> ExceptionDetail:
    """The exception with each invoice line beside its PO line (ordered, unit price,
    received, invoiced by other invoices, remaining) and its variance, and the receipts."""
    listed = await _found(session, exception_id)
    shown = await detail(session, listed, datetime.now(UTC))
    await session.commit()
    return shown


@router.post(
    "/{exception_id}/resolution",
    response_model=ResolutionOut,
    responses=problems(
        403,
        409,
        410,
        503,
        s403="The person is not the exception's owner, of its group, or (escalated) its"
        " escalation owner (`not_your_task`)",
        s409="Already resolved (`task_closed`, `no_exception`)",
        s410="The exception expired: only an operator resolves it now (`task_expired`)",
        s422="Invalid input (`validation_failed`), or refused: `justification_required`,"
        " `not_acceptable`, `empty_correction`, `choice_not_allowed`, or a corrected line's"
        " rule (as on creation)",
    ),
)
async def resolve_one(
    exception_id: str,
    body: ResolutionBody,
    session: SessionDep,
    temporal: OptionalTemporalDep,
    api_key: ApiKeyDep,
) -> ResolutionOut:
    """Resolve the exception for `person_id`: accept the variance (justification needed),
    correct the invoice (its lines or PO number; matched again), wait for the customer's
    PO amendment or a receipt (it stays open), or cancel the invoice (justification
    needed). Answers once the workflow has acted on it."""
    row = (await _found(session, exception_id)).row
    if row.status != "open":
        raise closed_refusal(row)
    if body.resolution == "correct" and (body.items or body.lines):
        await check_correction(session, row.invoice_id, body.items, body.lines)
    await session.commit()  # hold no read transaction while waiting for the workflow
    if temporal is None:
        raise temporal_unavailable()
    result = await resolve(
        temporal,
        row,
        ResolveExceptionInput(
            person_id=body.person_id,
            exception_id=row.id,
            resolution=body.resolution,
            justification=body.justification,
            items=body.items,
            lines=body.lines,
            po_number=body.po_number,
        ),
    )
    log.info(
        "exception.resolved",
        exception_id=exception_id,
        resolution=result.resolution,
        person_id=body.person_id,
        caller=api_key.name,
    )
    return ResolutionOut(
        exception_id=row.id,
        invoice_id=row.invoice_id,
        resolution=result.resolution,
        invoice_status=result.status,
    )
