"""The exception queue's records: opening an exception with its owner, its moves
(reasons re-matched, escalation, a person choosing to wait), its resolution, and the
queue's reads for the API.

Every write is idempotent: an exception's id derives from its invoice and the match
attempt, so a retried open finds its row and answers with the owner it assigned; the
other writes set fields to values, so repeating one changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.matching.model import MatchReason
from domain.matching.routing import ExceptionRoute, ExceptionRouting
from domain.tasks import Assignee
from schemas.exception_tables import InvoiceExceptionRow
from schemas.tables import ApproverRow
from store import audit
from store.groups import assignee, group_members, owner_for


def codes_text(reasons: Sequence[MatchReason]) -> str:
    """`,A,B,`: one LIKE '%,A,%' finds every exception with reason A, on both engines."""
    return "," + ",".join(dict.fromkeys(r.code.value for r in reasons)) + ","


async def open_exception(
    session: AsyncSession,
    *,
    exception_id: str,
    invoice_id: str,
    customer_id: str,
    po_number: str | None,
    reasons: Sequence[MatchReason],
    routing: ExceptionRouting,
    escalate_after: timedelta,
    at: datetime,
) -> InvoiceExceptionRow:
    """Store the exception with its owner, or find the one a retried attempt stored."""
    existing = await session.get(InvoiceExceptionRow, exception_id)
    if existing is not None:
        return existing
    route = routing.route_for([r.code for r in reasons], customer_id)
    owner, _ = await owner_for(session, route)
    escalation_owner = None
    if routing.escalation_group is not None:
        escalation_route = ExceptionRoute(group=routing.escalation_group)
        escalation_owner, _ = await owner_for(session, escalation_route)
    row = InvoiceExceptionRow(
        id=exception_id,
        invoice_id=invoice_id,
        customer_id=customer_id,
        po_number=po_number,
        status="open",
        reason_codes=codes_text(reasons),
        reasons=[r.model_dump(mode="json") for r in reasons],
        group_id=route.group,
        owner_id=owner.id if owner else None,
        owner_name=owner.name if owner else None,
        escalation_owner_id=escalation_owner.id if escalation_owner else None,
        escalation_group_id=routing.escalation_group,
        opened_at=at,
        escalates_at=at + escalate_after,
        updated_at=at,
    )
    session.add(row)
    await audit.record(
        session,
        step_key=f"{exception_id}:opened",
        invoice_id=invoice_id,
        entity="po_exception",
        action="exception.opened",
        actor="workflow",
        data={
            "exception_id": exception_id,
            "reasons": [r.code.value for r in reasons],
            "owner": row.owner_id,
            "group": row.group_id,
        },
        at=at,
    )
    await session.flush()
    return row


async def people_of(
    session: AsyncSession, row: InvoiceExceptionRow
) -> tuple[list[Assignee], Assignee | None, list[Assignee]]:
    """The owner first, then the rest of their group; the escalation owner; and the rest
    of the escalation group: the seats of the exception's human task."""
    members = await group_members(session, row.group_id)
    owners = [assignee(m) for m in members]
    if row.owner_id is not None:
        first = [o for o in owners if o.person_id == row.owner_id]
        if not first:
            fixed = await session.get(ApproverRow, row.owner_id)
            first = [assignee(fixed)] if fixed is not None else []
        owners = first + [o for o in owners if o.person_id != row.owner_id]
    escalation = [assignee(m) for m in await group_members(session, row.escalation_group_id)]
    backup = next((p for p in escalation if p.person_id == row.escalation_owner_id), None)
    others = [p for p in escalation if backup is None or p.person_id != backup.person_id]
    return owners, backup, others


async def update_exception(
    session: AsyncSession, exception_id: str, step: str, actor: str, **fields: Any
) -> InvoiceExceptionRow | None:
    """Set fields of an exception and audit the move once per `step`."""
    row = await session.get(InvoiceExceptionRow, exception_id)
    if row is None:
        return None
    at = fields.pop("at", None) or datetime.now(UTC)
    if "reasons" in fields:
        reasons: Sequence[MatchReason] = fields.pop("reasons")
        row.reasons = [r.model_dump(mode="json") for r in reasons]
        row.reason_codes = codes_text(reasons)
    for name, value in fields.items():
        setattr(row, name, value)
    row.updated_at = at
    session.add(row)
    await audit.record(
        session,
        step_key=f"{exception_id}:{step}",
        invoice_id=row.invoice_id,
        entity="po_exception",
        action=f"exception.{step.split(':')[0]}",
        actor=actor,
        data={"exception_id": exception_id, **_jsonable(fields)},
        at=at,
    )
    return row


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}


async def list_open(
    session: AsyncSession,
    *,
    reason: str | None = None,
    owner_id: str | None = None,
    customer_id: str | None = None,
    opened_before: datetime | None = None,
    status: str = "open",
    limit: int = 100,
    after_id: str | None = None,
) -> list[InvoiceExceptionRow]:
    """The queue, oldest first; `opened_before` filters by age."""
    query = select(InvoiceExceptionRow).where(InvoiceExceptionRow.status == status)
    if reason:
        query = query.where(col(InvoiceExceptionRow.reason_codes).like(f"%,{reason},%"))
    if owner_id:
        query = query.where(InvoiceExceptionRow.owner_id == owner_id)
    if customer_id:
        query = query.where(InvoiceExceptionRow.customer_id == customer_id)
    if opened_before is not None:
        query = query.where(col(InvoiceExceptionRow.opened_at) <= opened_before)
    if after_id:
        query = query.where(col(InvoiceExceptionRow.id) > after_id)
    query = query.order_by(col(InvoiceExceptionRow.opened_at), col(InvoiceExceptionRow.id))
    return list(await session.exec(query.limit(limit)))


async def open_for_po(session: AsyncSession, customer_id: str, po_number: str) -> list[str]:
    """Invoice ids with an open exception on this PO (a PO change re-matches them)."""
    rows = await session.exec(
        select(InvoiceExceptionRow.invoice_id).where(
            InvoiceExceptionRow.status == "open",
            InvoiceExceptionRow.customer_id == customer_id,
            InvoiceExceptionRow.po_number == po_number,
        )
    )
    return list(dict.fromkeys(rows))
