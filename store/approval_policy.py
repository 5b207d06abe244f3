"""Approval configuration (approvers, groups, rules, delegations) as stored rows, and the
policy they make.

The configuration is written by the API (each change a new version of its row) and read
back whole as a `domain.approval.ApprovalPolicy` by `load_policy`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.approval import ApprovalPolicy, ApprovalRule, Approver, ApproverGroup, Delegation
from schemas.tables import ApprovalRuleRow, ApproverGroupRow, ApproverRow, DelegationRow


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
