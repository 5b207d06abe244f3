"""Approval configuration (approvers, groups, rules, delegations) and approval records
(the links sent, what happened to them, the decisions).

The configuration is written by the API and read back whole as a
`domain.approval.ApprovalPolicy` by `load_policy`. The records are written by the
invoice activities; every write here is idempotent under retries: a request row is keyed
by its deterministic id, a decision is applied only to a request still "sent", and every
audit event is keyed by its step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.approval import (
    ApprovalPolicy,
    ApprovalRule,
    Approver,
    ApproverGroup,
    DecisionKind,
    Delegation,
)
from schemas.tables import (
    ApprovalLinkEvent,
    ApprovalRequestRow,
    ApprovalRuleRow,
    ApproverGroupRow,
    ApproverRow,
    DelegationRow,
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


# --- configuration -----------------------------------------------------------------------


def rule_definition(rule: ApprovalRule) -> dict[str, Any]:
    """What `approval_rules.definition` stores: the rule less its id and description, with
    sets as sorted lists so the stored JSON is the same for the same rule."""
    values = rule.model_dump(mode="json", exclude={"id", "description"})
    for key in ("document_types", "customer_ids", "regions", "currencies"):
        values[key] = sorted(values[key])
    return values


def rule_from_row(row: ApprovalRuleRow) -> ApprovalRule:
    """The stored rule. One stored before rules had a currency scope is scoped to its
    threshold's currency, as a new one is by default."""
    definition = dict(row.definition)
    if "currencies" not in definition:
        threshold = definition.get("currency")
        has_threshold = definition.get("min_amount_minor") is not None
        definition["currencies"] = [threshold] if threshold and has_threshold else []
    return ApprovalRule(id=row.id, description=row.description, **definition)


async def new_version(
    session: AsyncSession, row: Any, changes: dict[str, Any], at: datetime
) -> Any:
    """Apply `changes` to a configuration row as its next version (deactivating is one)."""
    for key, value in changes.items():
        setattr(row, key, value)
    row.version += 1
    row.updated_at = at
    session.add(row)
    await session.flush()
    return row


async def add_approver(session: AsyncSession, approver: Approver, at: datetime) -> ApproverRow:
    row = ApproverRow(**approver.model_dump(), active=True, created_at=at)
    session.add(row)
    await session.flush()
    return row


async def add_group(session: AsyncSession, group: ApproverGroup, at: datetime) -> ApproverGroupRow:
    row = ApproverGroupRow(**group.model_dump(), created_at=at)
    session.add(row)
    await session.flush()
    return row


async def add_rule(session: AsyncSession, rule: ApprovalRule, at: datetime) -> ApprovalRuleRow:
    """Append a rule after the existing ones (position = last + 1)."""
    last = (await session.exec(select(func.max(ApprovalRuleRow.position)))).one()
    row = ApprovalRuleRow(
        id=rule.id,
        description=rule.description,
        position=(last or 0) + 1,
        definition=rule_definition(rule),
        active=True,
        created_at=at,
    )
    session.add(row)
    await session.flush()
    return row


async def add_delegation(
    session: AsyncSession, delegation_id: str, delegation: Delegation, at: datetime
) -> DelegationRow:
    row = DelegationRow(id=delegation_id, **delegation.model_dump(), created_at=at)
    session.add(row)
    await session.flush()
    return row


async def revoke_delegation(session: AsyncSession, delegation: DelegationRow, at: datetime) -> bool:
    """Revoke once; False if it was already revoked."""
    if delegation.revoked_at is not None:
        return False
    delegation.revoked_at = at
    session.add(delegation)
    await session.flush()
    return True


async def active_approvers(session: AsyncSession) -> list[ApproverRow]:
    rows = await session.exec(
        select(ApproverRow)
        .where(col(ApproverRow.active).is_(True))
        .order_by(col(ApproverRow.created_at), col(ApproverRow.id))
    )
    return list(rows)


async def groups(
    session: AsyncSession, *, include_inactive: bool = False
) -> list[ApproverGroupRow]:
    query = select(ApproverGroupRow)
    if not include_inactive:
        query = query.where(col(ApproverGroupRow.active).is_(True))
    rows = await session.exec(
        query.order_by(col(ApproverGroupRow.created_at), col(ApproverGroupRow.id))
    )
    return list(rows)


async def all_approvers(session: AsyncSession) -> list[ApproverRow]:
    rows = await session.exec(
        select(ApproverRow).order_by(col(ApproverRow.created_at), col(ApproverRow.id))
    )
    return list(rows)


async def rules(session: AsyncSession, *, include_inactive: bool = False) -> list[ApprovalRuleRow]:
    if not include_inactive:
        return await active_rules(session)
    rows = await session.exec(
        select(ApprovalRuleRow).order_by(
            col(ApprovalRuleRow.position), col(ApprovalRuleRow.created_at), col(ApprovalRuleRow.id)
        )
    )
    return list(rows)


async def active_rules(session: AsyncSession) -> list[ApprovalRuleRow]:
    """Active rules in policy order: by position, then (for two rules added at once on
    PostgreSQL, which may share a position) by creation time and id."""
    rows = await session.exec(
        select(ApprovalRuleRow)
        .where(col(ApprovalRuleRow.active).is_(True))
        .order_by(
            col(ApprovalRuleRow.position), col(ApprovalRuleRow.created_at), col(ApprovalRuleRow.id)
        )
    )
    return list(rows)


async def delegations_of(
    session: AsyncSession, approver_id: str, *, include_revoked: bool = True
) -> list[DelegationRow]:
    query = select(DelegationRow).where(DelegationRow.approver_id == approver_id)
    if not include_revoked:
        query = query.where(col(DelegationRow.revoked_at).is_(None))
    rows = await session.exec(query.order_by(col(DelegationRow.starts), col(DelegationRow.id)))
    return list(rows)


async def load_policy(
    session: AsyncSession, rules: list[ApprovalRuleRow] | None = None
) -> ApprovalPolicy:
    """The approval policy as configured now (`rules`: the active rules, if already read in
    this transaction).

    Only active approvers, groups and rules and non-revoked delegations take part. An inactive
    approver is also left out of every group (and as a backup) and out of every delegation,
    so nobody inactive ever gets a link. No rate table is configured (``rates=None``), so
    every rule with a threshold names its currency (the API requires it).

    Raises `pydantic.ValidationError` if the stored configuration does not make a
    consistent policy (it cannot happen through the API, which checks each change with
    this function before committing it).
    """
    approvers = await active_approvers(session)
    active = {a.id for a in approvers}
    group_rows = await groups(session)
    delegation_rows = await session.exec(
        select(DelegationRow)
        .where(col(DelegationRow.revoked_at).is_(None))
        .order_by(col(DelegationRow.approver_id), col(DelegationRow.starts), col(DelegationRow.id))
    )
    return ApprovalPolicy(
        rules=[
            rule_from_row(row)
            for row in (rules if rules is not None else await active_rules(session))
        ],
        groups=[
            ApproverGroup(
                id=g.id,
                name=g.name,
                members=[m for m in g.members if m in active],
                backup_approver_id=g.backup_approver_id if g.backup_approver_id in active else None,
            )
            for g in group_rows
        ],
        approvers=[
            Approver(id=a.id, name=a.name, email=a.email, time_zone=a.time_zone) for a in approvers
        ],
        delegations=[
            Delegation(
                approver_id=d.approver_id, delegate_id=d.delegate_id, starts=d.starts, ends=d.ends
            )
            for d in delegation_rows
            if d.approver_id in active and d.delegate_id in active
        ],
        rates=None,
    )


async def policy_for_invoices(session: AsyncSession) -> ApprovalPolicy:
    """What an invoice's approval step needs: the policy, or when no rule is active (no
    invoice needs approval) an empty one, without reading approvers, groups and
    delegations that could not take part. It travels in every invoice's history, so it is
    also kept small there."""
    rules = await active_rules(session)
    if not rules:
        return ApprovalPolicy(rules=[], groups=[], approvers=[], delegations=[], rates=None)
    return await load_policy(session, rules)


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
