"""Approval configuration: approvers, approver groups, approval rules and delegations.

Each change is checked against what it names (422 ``unknown_approver``, ``unknown_group``,
``unknown_customer``, ``invalid_quorum``, ``self_delegation``; 409 ``approver_exists``,
``delegation_overlaps``) and then, before it commits, against the whole policy as
`store.approvals.load_policy` builds it, so the stored configuration always makes a
policy the invoice workflow can use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import ApiKeyDep, IdempotencyKeyDep, SessionDep
from api.errors import ApiError, NotFoundError, Unprocessable
from api.idempotency import Answer, idempotent
from domain.approval import ApprovalRule, Approver, ApproverGroup, Delegation
from schemas.approval_api import (
    ApprovalRuleCreate,
    ApprovalRuleOut,
    ApproverCreate,
    ApproverGroupCreate,
    ApproverGroupOut,
    ApproverOut,
    DelegationCreate,
    DelegationOut,
)
from schemas.ids import new_id
from schemas.tables import (
    ApprovalRuleRow,
    ApproverGroupRow,
    ApproverRow,
    Customer,
    DelegationRow,
)
from store import approvals, audit
from store.db import begin_write

router = APIRouter(tags=["approvals"])


class Conflict(ApiError):
    status, title, code = 409, "Conflict", "conflict"


async def _check_policy(session: AsyncSession) -> None:
    """Refuse a change after which the stored configuration no longer makes a policy."""
    try:
        await approvals.load_policy(session)
    except ValidationError as invalid:
        messages = "; ".join(e["msg"] for e in invalid.errors())
        raise Unprocessable(
            f"the approval policy would be inconsistent: {messages}", code="inconsistent_policy"
        ) from invalid


async def _require_approvers(session: AsyncSession, ids: list[str]) -> None:
    known = {
        row.id
        for row in await session.exec(
            select(ApproverRow).where(
                col(ApproverRow.id).in_(ids), col(ApproverRow.active).is_(True)
            )
        )
    }
    missing = [i for i in ids if i not in known]
    if missing:
        raise Unprocessable(
            f"no active approver {', '.join(missing)}",
            code="unknown_approver",
            approver_ids=missing,
        )


async def _audit(
    session: AsyncSession, step_key: str, action: str, actor: str, data: dict[str, Any]
) -> None:
    entity = action.split(".")[0]
    await audit.record(
        session, step_key=step_key, entity=entity, action=action, actor=actor, data=data
    )


def _rule_out(row: ApprovalRuleRow) -> ApprovalRuleOut:
    rule = approvals.rule_from_row(row)
    return ApprovalRuleOut(
        id=row.id,
        position=row.position,
        description=row.description,
        document_types=sorted(rule.document_types),
        min_amount_minor=rule.min_amount_minor,
        currency=rule.currency,
        customer_ids=sorted(rule.customer_ids),
        regions=sorted(rule.regions),
        requires_po_variance=rule.requires_po_variance,
        levels=rule.levels,
        active=row.active,
        created_at=row.created_at,
    )


# --- approvers ---------------------------------------------------------------------------


@router.post("/approvers", status_code=201, response_model=ApproverOut)
async def create_approver(
    body: ApproverCreate,
    request: Request,
    session: SessionDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    async def produce() -> Answer:
        await begin_write(session)
        approver_id = body.id or new_id("apr")
        if await session.get(ApproverRow, approver_id) is not None:
            raise Conflict(f"approver {approver_id} already exists", code="approver_exists")
        approver = Approver(
            id=approver_id, name=body.name, email=body.email, time_zone=body.time_zone
        )
        row = await approvals.add_approver(session, approver, datetime.now(UTC))
        await _audit(
            session,
            f"approver:{row.id}:created",
            "approver.created",
            api_key.name,
            {"approver_id": row.id},
        )
        await _check_policy(session)
        await session.commit()
        out = ApproverOut.model_validate(row, from_attributes=True)
        return Answer(201, out.model_dump(mode="json"), f"/approvers/{row.id}")

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.get("/approvers", response_model=list[ApproverOut])
async def list_approvers(session: SessionDep, _: ApiKeyDep) -> list[ApproverOut]:
    rows = await approvals.active_approvers(session)
    return [ApproverOut.model_validate(row, from_attributes=True) for row in rows]


@router.get("/approvers/{approver_id}", response_model=ApproverOut)
async def get_approver(approver_id: str, session: SessionDep, _: ApiKeyDep) -> ApproverOut:
    row = await session.get(ApproverRow, approver_id)
    if row is None:
        raise NotFoundError(f"approver {approver_id} does not exist", code="unknown_approver")
    return ApproverOut.model_validate(row, from_attributes=True)


# --- groups ------------------------------------------------------------------------------


@router.post("/approver-groups", status_code=201, response_model=ApproverGroupOut)
async def create_group(
    body: ApproverGroupCreate,
    request: Request,
    session: SessionDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    async def produce() -> Answer:
        await begin_write(session)
        backup = [body.backup_approver_id] if body.backup_approver_id else []
        await _require_approvers(session, [*body.members, *backup])
        group = ApproverGroup(id=new_id("grp"), **body.model_dump())
        row = await approvals.add_group(session, group, datetime.now(UTC))
        await _audit(
            session,
            f"approver_group:{row.id}:created",
            "approver_group.created",
            api_key.name,
            {"group_id": row.id, "members": row.members, "backup": row.backup_approver_id},
        )
        await _check_policy(session)
        await session.commit()
        out = ApproverGroupOut.model_validate(row, from_attributes=True)
        return Answer(201, out.model_dump(mode="json"), f"/approver-groups/{row.id}")

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.get("/approver-groups", response_model=list[ApproverGroupOut])
async def list_groups(session: SessionDep, _: ApiKeyDep) -> list[ApproverGroupOut]:
    rows = await approvals.groups(session)
    return [ApproverGroupOut.model_validate(row, from_attributes=True) for row in rows]


# --- rules -------------------------------------------------------------------------------


@router.post("/approval-rules", status_code=201, response_model=ApprovalRuleOut)
async def create_rule(
    body: ApprovalRuleCreate,
    request: Request,
    session: SessionDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    async def produce() -> Answer:
        await begin_write(session)
        for position, level in enumerate(body.levels, start=1):
            group = await session.get(ApproverGroupRow, level.group_id)
            if group is None:
                raise Unprocessable(
                    f"level {position} names group {level.group_id}, which does not exist",
                    code="unknown_group",
                )
            count = level.quorum.count
            if count is not None and not 1 <= count <= len(group.members):
                raise Unprocessable(
                    f"level {position} needs {count} approvals but group {group.id} has "
                    f"{len(group.members)} members",
                    code="invalid_quorum",
                )
        for customer_id in body.customer_ids:
            if await session.get(Customer, customer_id) is None:
                raise Unprocessable(
                    f"customer {customer_id} does not exist", code="unknown_customer"
                )
        rule = ApprovalRule(id=new_id("rule"), **body.model_dump())
        row = await approvals.add_rule(session, rule, datetime.now(UTC))
        await _audit(
            session,
            f"approval_rule:{row.id}:created",
            "approval_rule.created",
            api_key.name,
            {"rule_id": row.id, "position": row.position, **row.definition},
        )
        await _check_policy(session)
        await session.commit()
        return Answer(201, _rule_out(row).model_dump(mode="json"), f"/approval-rules/{row.id}")

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.get("/approval-rules", response_model=list[ApprovalRuleOut])
async def list_rules(session: SessionDep, _: ApiKeyDep) -> list[ApprovalRuleOut]:
    """Active rules in policy order."""
    return [_rule_out(row) for row in await approvals.active_rules(session)]


# --- delegations -------------------------------------------------------------------------


@router.post("/approvers/{approver_id}/delegations", status_code=201, response_model=DelegationOut)
async def create_delegation(
    approver_id: str,
    body: DelegationCreate,
    request: Request,
    session: SessionDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    """While ``approver_id`` is away (``starts`` to ``ends``, inclusive), their approval
    links go to ``delegate_id``. An approver has at most one delegate on any day."""

    async def produce() -> Answer:
        await begin_write(session)
        approver = await session.get(ApproverRow, approver_id)
        if approver is None or not approver.active:
            raise NotFoundError(f"approver {approver_id} does not exist", code="unknown_approver")
        if body.delegate_id == approver_id:
            raise Unprocessable(
                f"approver {approver_id} cannot delegate to themselves", code="self_delegation"
            )
        await _require_approvers(session, [body.delegate_id])
        for other in await approvals.delegations_of(session, approver_id, include_revoked=False):
            if other.starts <= body.ends and body.starts <= other.ends:
                raise Conflict(
                    f"approver {approver_id} already delegates to {other.delegate_id} from "
                    f"{other.starts} to {other.ends} (delegation {other.id}); revoke it first",
                    code="delegation_overlaps",
                    delegation_id=other.id,
                )
        delegation = Delegation(approver_id=approver_id, **body.model_dump())
        row = await approvals.add_delegation(session, new_id("dlg"), delegation, datetime.now(UTC))
        await _audit(
            session,
            f"delegation:{row.id}:created",
            "delegation.created",
            api_key.name,
            {"delegation_id": row.id, **delegation.model_dump(mode="json")},
        )
        await _check_policy(session)
        await session.commit()
        out = DelegationOut.model_validate(row, from_attributes=True)
        return Answer(
            201, out.model_dump(mode="json"), f"/approvers/{approver_id}/delegations/{row.id}"
        )

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.get("/approvers/{approver_id}/delegations", response_model=list[DelegationOut])
async def list_delegations(
    approver_id: str, session: SessionDep, _: ApiKeyDep
) -> list[DelegationOut]:
    """All of an approver's delegations, revoked ones included (with ``revoked_at``)."""
    if await session.get(ApproverRow, approver_id) is None:
        raise NotFoundError(f"approver {approver_id} does not exist", code="unknown_approver")
    rows = await approvals.delegations_of(session, approver_id)
    return [DelegationOut.model_validate(row, from_attributes=True) for row in rows]


@router.delete("/approvers/{approver_id}/delegations/{delegation_id}", status_code=204)
async def revoke_delegation(
    approver_id: str, delegation_id: str, session: SessionDep, api_key: ApiKeyDep
) -> Response:
    """Revoke a delegation: links sent from now on go to the approver again. Revoking a
    revoked delegation is a no-op (204)."""
    await begin_write(session)
    row = await session.get(DelegationRow, delegation_id)
    if row is None or row.approver_id != approver_id:
        raise NotFoundError(
            f"approver {approver_id} has no delegation {delegation_id}", code="unknown_delegation"
        )
    if await approvals.revoke_delegation(session, row, datetime.now(UTC)):
        await _audit(
            session,
            f"delegation:{row.id}:revoked",
            "delegation.revoked",
            api_key.name,
            {"delegation_id": row.id, "approver_id": approver_id},
        )
    await session.commit()
    return Response(status_code=204)
