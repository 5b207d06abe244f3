"""Disputes as staff and upstream apps read them: the list with filters and keyset paging,
one dispute with its timeline, evidence and remedies, one evidence file, and the disputes
report for a period. Reads only: acting on a dispute is `api.routes.dispute_actions`.

An evidence file is served as an attachment with its stored media type and
``X-Content-Type-Options: nosniff`` (and a sandboxing CSP), so a browser never renders a
customer's upload inline as a page of ours.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import ApiKeyDep, SessionDep, SettingsDep
from api.errors import ApiError, NotFoundError, Unprocessable
from api.openapi import problems
from domain.disputes.model import DisputeReason
from domain.disputes.report import DisputeReport, summarize
from domain.evidence import ALLOWED_MEDIA_TYPES
from integrations.evidence_storage import BlobCorrupt, BlobMissing, storage_from_settings
from schemas.dispute_api import DisputeDetail, DisputePage, DisputeStatusFilter
from store.dispute_reads import InvalidCursor, dispute_detail, find_evidence, list_disputes
from store.dispute_reads import report_rows as dispute_report_rows

router = APIRouter(tags=["disputes"])
log = structlog.get_logger()

MAX_AGE_DAYS = 3650
MAX_REPORT_DAYS = 3660  # ten years and their leap days


class EvidenceGone(ApiError):
    status, title, code = 410, "Gone", "evidence_missing"


@router.get(
    "/disputes",
    response_model=DisputePage,
    responses=problems(s422="Invalid filter (`validation_failed`) or cursor (`invalid_cursor`)"),
)
async def list_all(
    session: SessionDep,
    _: ApiKeyDep,
    status: Annotated[
        list[DisputeStatusFilter] | None,
        Query(
            description="repeat for several; `unresolved` is every status but resolved",
            examples=[["unresolved"]],
        ),
    ] = None,
    level: Annotated[int | None, Query(ge=1, le=9, description="escalation level")] = None,
    owner: Annotated[str | None, Query(max_length=200, description="the owner's id")] = None,
    reason: Annotated[DisputeReason | None, Query(description="reason category")] = None,
    min_age_days: Annotated[
        float | None, Query(ge=0, le=MAX_AGE_DAYS, description="opened at least this long ago")
    ] = None,
    sla_breached: Annotated[bool | None, Query(description="the SLA ran out")] = None,
    customer_id: Annotated[str | None, Query(max_length=100)] = None,
    invoice_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500, description="next_cursor")] = None,
) -> DisputePage:
    """Disputes oldest first, each with its invoice, owner, level, SLA and amounts (as
    opened, still disputed, credited, written off); every filter narrows the list."""
    try:
        page = await list_disputes(
            session,
            status=status,
            level=level,
            owner=owner,
            reason=reason.value if reason else None,
            min_age_days=min_age_days,
            sla_breached=sla_breached,
            customer_id=customer_id,
            invoice_id=invoice_id,
            limit=limit,
            cursor=cursor,
        )
    except InvalidCursor as bad:
        raise Unprocessable(
            "cursor is not one this API gave out: pass next_cursor as it came",
            code="invalid_cursor",
        ) from bad
    await session.commit()
    return page


@router.get("/disputes/{dispute_id}", response_model=DisputeDetail)
async def get_one(dispute_id: str, session: SessionDep, _: ApiKeyDep) -> DisputeDetail:
    """The dispute with its timeline (staff-only entries included), evidence list, credit
    notes and payment-plan instalments."""
    detail = await dispute_detail(session, dispute_id)
    await session.commit()
    if detail is None:
        raise NotFoundError(f"dispute {dispute_id} does not exist")
    return detail


def _attachment(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the real one in RFC 5987 form."""
    plain = (c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    fallback = "".join(plain) or "evidence"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(
    "/disputes/{dispute_id}/evidence/{evidence_id}",
    response_class=Response,
    responses={
        200: {
            "description": "The file's bytes, as an attachment, in its stored media type",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ALLOWED_MEDIA_TYPES
            },
        },
        **problems(
            404,
            410,
            s404="No such dispute, or no such evidence on it (`not_found`)",
            s410="The file is listed but no longer stored intact (`evidence_missing`)",
        ),
    },
)
async def get_evidence(
    dispute_id: str, evidence_id: str, session: SessionDep, settings: SettingsDep, _: ApiKeyDep
) -> Response:
    """One evidence file, checked against its SHA-256 before it is served."""
    row = await find_evidence(session, dispute_id, evidence_id)
    await session.commit()
    if row is None:
        raise NotFoundError(f"dispute {dispute_id} has no evidence {evidence_id}")
    try:
        content = await storage_from_settings(settings).get(row.sha256)
    except BlobMissing as missing:
        log.error(
            "dispute.evidence_unavailable",
            dispute_id=dispute_id,
            evidence_id=evidence_id,
            sha256=row.sha256,
            corrupt=isinstance(missing, BlobCorrupt),
        )
        raise EvidenceGone(
            f"evidence {evidence_id} is listed but its file is no longer stored intact"
        ) from missing
    return Response(
        content,
        media_type=row.media_type,
        headers={
            "Content-Disposition": _attachment(row.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/reports/disputes",
    response_model=DisputeReport,
    tags=["reports"],
    responses=problems(
        s422="Invalid dates (`validation_failed`), or `from` after `to` (`invalid_period`)"
    ),
)
async def report(
    session: SessionDep,
    settings: SettingsDep,
    _: ApiKeyDep,
    start: Annotated[
        dt.date,
        Query(alias="from", description="first day (UTC), inclusive", examples=["2026-11-01"]),
    ],
    end: Annotated[
        dt.date,
        Query(alias="to", description="last day (UTC), inclusive", examples=["2026-11-30"]),
    ],
) -> DisputeReport:
    """Disputes opened in the period by reason category and their SLA breaches; of those
    resolved in it, the median and 90th-percentile cycle time from intake to resolution
    (hours), the share resolved at each level, and the amounts credited and written off
    (per currency). Periods are whole UTC days, `to` included."""
    if start > end:
        raise Unprocessable(f"from ({start}) is after to ({end})", code="invalid_period")
    if (end - start).days > MAX_REPORT_DAYS or end >= dt.date.max:
        raise Unprocessable("a report covers at most ten years", code="invalid_period")
    # whole UTC days, the last one included: [from 00:00, the day after `to` 00:00)
    period_start = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    period_end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    cases = await dispute_report_rows(session, period_start, period_end)
    await session.commit()
    return summarize(cases, period_start, period_end, levels=settings.dispute_ladder.top)
