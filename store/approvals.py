"""Approval records: the links sent, what happened to them, the decisions (the
configuration is in `store.approval_policy`).

The records are written by the invoice activities; every write here is idempotent under
retries: a request row is keyed by its deterministic id, a decision is applied only to a
request still "sent", and every audit event is keyed by its step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.approval import (
    DecisionKind,
)
from schemas.tables import (
    ApprovalLinkEvent,
    ApprovalRequestRow,
)
from store import audit
from store.db import insert_if_absent

LinkEventKind = Literal["sent", "opened", "decided", "refused"]
RequestStatus = Literal["sent", "decided", "superseded", "expired"]

DECISION_ACTIONS: dict[str, str] = {
    "approve": "approval.approved",
    "reject": "approval.rejected",
    "request_changes": "approval.changes_requested",
}


class UnknownApprovalRequest(LookupError):
    """A decision names an approval request that was never recorded as sent."""


def approval_request_id(invoice_id: str, round: int, level: int, approver_id: str) -> str:
    """The deterministic key of one approval link: the same on every retry of the send."""
    return f"{invoice_id}:r{round}:l{level}:{approver_id}"


# --- records -----------------------------------------------------------------------------


async def record_request_sent(
    session: AsyncSession,
    *,
    request_id: str,
    invoice_id: str,
    round: int,
    level: int,
    approver_id: str,
    delegated_from: str | None,
    version: int,
    at: datetime | None = None,
) -> bool:
    """Record that an approval link goes out; True the first time, False on a retry.

    Writes the request row, a "sent" link event and an audit event (which says whom the
    link was delegated from), each once.
    """
    at = at or datetime.now(UTC)
    created = await insert_if_absent(
        session,
        ApprovalRequestRow,
        id=request_id,
        invoice_id=invoice_id,
        round=round,
        level=level,
        approver_id=approver_id,
        delegated_from=delegated_from,
        version=version,
        status="sent",
        sent_at=at,
    )
    if not created:
        return False
    facts = {
        "request_id": request_id,
        "round": round,
        "level": level,
        "approver_id": approver_id,
        "delegated_from": delegated_from,
        "version": version,
    }
    await record_link_event(
        session, request_id=request_id, event="sent", ip=None, user_agent=None, detail=facts, at=at
    )
    await audit.record(
        session,
        step_key=f"{invoice_id}:approval:{request_id}:sent",
        invoice_id=invoice_id,
        entity="approval",
        action="approval.link_sent",
        actor="system",
        data=facts,
        at=at,
    )
    return True


async def record_link_event(
    session: AsyncSession,
    *,
    request_id: str,
    event: LinkEventKind,
    ip: str | None,
    user_agent: str | None,
    detail: dict[str, Any] | None,
    at: datetime | None = None,
) -> None:
    """Append one event to a link's trail (every GET of the page is one "opened").

    Never pass the token, or anything it could be rebuilt from, in ``detail``.
    """
    if event not in get_args(LinkEventKind):
        raise ValueError(f"unknown link event {event!r}")
    session.add(
        ApprovalLinkEvent(
            request_id=request_id,
            event=event,
            at=at or datetime.now(UTC),
            ip=ip,
            user_agent=user_agent,
            detail=detail or {},
        )
    )
    await session.flush()


async def record_decision(
    session: AsyncSession,
    *,
    request_id: str,
    decision: DecisionKind,
    reason: str | None,
    ip: str | None,
    user_agent: str | None,
    at: datetime,
    actor: str | None = None,
) -> bool:
    """Mark a sent request decided; True the first time, False if it was no longer "sent"
    (already decided, superseded or expired), in which case nothing is written.

    ``actor`` is who decided when it was not the link's holder (an operator deciding from
    the Temporal UI: ``operator:alice``); it defaults to the request's approver.
    """
    if decision not in DECISION_ACTIONS:
        raise ValueError(f"unknown decision {decision!r}")
    request = await session.get(ApprovalRequestRow, request_id)
    if request is None:
        raise UnknownApprovalRequest(f"approval request {request_id} was never sent")
    connection = await session.connection()
    result = await connection.execute(
        update(ApprovalRequestRow)
        .where(col(ApprovalRequestRow.id) == request_id, col(ApprovalRequestRow.status) == "sent")
        .values(status="decided", decided_at=at, decision=decision, reason=reason)
    )
    if not result.rowcount:
        return False
    await session.refresh(request)
    facts = {
        "request_id": request_id,
        "round": request.round,
        "level": request.level,
        "version": request.version,
        "approver_id": request.approver_id,
        "delegated_from": request.delegated_from,
        "decision": decision,
        "reason": reason,
    }
    await record_link_event(
        session,
        request_id=request_id,
        event="decided",
        ip=ip,
        user_agent=user_agent,
        detail={**facts, "actor": actor or request.approver_id},
        at=at,
    )
    await audit.record(
        session,
        step_key=f"{request.invoice_id}:approval:{request_id}:decided",
        invoice_id=request.invoice_id,
        entity="approval",
        action=DECISION_ACTIONS[decision],
        actor=actor or request.approver_id,
        data={**facts, "ip": ip, "user_agent": user_agent},
        at=at,
    )
    return True


async def _close_open_requests(
    session: AsyncSession, invoice_id: str, round: int, status: RequestStatus
) -> int:
    connection = await session.connection()
    result = await connection.execute(
        update(ApprovalRequestRow)
        .where(
            col(ApprovalRequestRow.invoice_id) == invoice_id,
            col(ApprovalRequestRow.round) == round,
            col(ApprovalRequestRow.status) == "sent",
        )
        .values(status=status)
    )
    count = int(result.rowcount or 0)
    if count:
        await audit.record(
            session,
            step_key=f"{invoice_id}:approval:r{round}:{status}",
            invoice_id=invoice_id,
            entity="approval",
            action=f"approval.round_{status}",
            actor="system",
            data={"round": round, "requests": count},
        )
    return count


async def supersede_round(session: AsyncSession, invoice_id: str, round: int) -> int:
    """Mark the round's still-open requests "superseded" (the invoice went back for
    correction, or the round finished without them); returns how many."""
    return await _close_open_requests(session, invoice_id, round, "superseded")


async def expire_round(session: AsyncSession, invoice_id: str, round: int) -> int:
    """Mark the round's still-open requests "expired" (nobody decided in time)."""
    return await _close_open_requests(session, invoice_id, round, "expired")


async def requests_for(session: AsyncSession, invoice_id: str) -> list[ApprovalRequestRow]:
    rows = await session.exec(
        select(ApprovalRequestRow)
        .where(ApprovalRequestRow.invoice_id == invoice_id)
        .order_by(
            col(ApprovalRequestRow.round),
            col(ApprovalRequestRow.level),
            col(ApprovalRequestRow.sent_at),
            col(ApprovalRequestRow.id),
        )
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def link_events_for(session: AsyncSession, invoice_id: str) -> list[ApprovalLinkEvent]:
    """Every link event of an invoice's approval requests, oldest first."""
    rows = await session.exec(
        select(ApprovalLinkEvent)
        .join(ApprovalRequestRow, col(ApprovalRequestRow.id) == col(ApprovalLinkEvent.request_id))
        .where(ApprovalRequestRow.invoice_id == invoice_id)
        .order_by(col(ApprovalLinkEvent.id))
    )
    return list(rows)


async def link_trail(session: AsyncSession, invoice_id: str) -> list[dict[str, Any]]:
    """An invoice's approval link events (sent, opened, decided, refused), oldest first,
    each with the round, level and approver of its link, for the invoice's record."""
    rows = await session.exec(
        select(ApprovalLinkEvent, ApprovalRequestRow)
        .join(ApprovalRequestRow, col(ApprovalRequestRow.id) == col(ApprovalLinkEvent.request_id))
        .where(ApprovalRequestRow.invoice_id == invoice_id)
        .order_by(col(ApprovalLinkEvent.id))
    )
    return [
        {
            "event": event.event,
            "at": (event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)).isoformat(),
            "request_id": event.request_id,
            "round": request.round,
            "level": request.level + 1,
            "approver_id": request.approver_id,
            "delegated_from": request.delegated_from,
            "ip": event.ip,
            "user_agent": event.user_agent,
            "detail": event.detail,
        }
        for event, request in rows
    ]
