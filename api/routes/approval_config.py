"""Approval configuration: approvers and approver groups (rules and delegations are in
`api.routes.approval_rules`, included in this router).

Each of them is created, listed, read, updated (PUT replaces, PATCH changes the fields
sent) and deactivated (DELETE; nothing is deleted). An update is a new version: ``version``
goes up by one, the audit trail keeps the version before and after, and an update that
changes nothing is no new version. An approval round already running keeps the chain it
started with (the invoice process reads the policy when its approval starts); invoices
whose approval starts later use the new version.

Each change is checked against what it names (422 ``unknown_approver``, ``unknown_group``,
``unknown_customer``, ``invalid_quorum``, ``self_delegation``, ``scope_needs_rates``; 409
``approver_exists``, ``delegation_overlaps``, ``group_in_use``, ``deactivated``; 404 for an
unknown id) and then, before it commits, against the whole policy as
`store.approval_policy.load_policy` builds it (422 ``inconsistent_policy``), so the stored
configuration always makes a policy the invoice workflow can use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from api.approval_config_checks import (
    audit_change,
    check_policy,
    merged,
    require_active,
    require_approvers,
    unchanged,
)
from api.deps import ApiKeyDep, IdempotencyKeyDep, SessionDep
from api.errors import Conflict, NotFoundError
from api.idempotency import Answer, idempotent
from api.routes import approval_rules
from domain.approval import Approver, ApproverGroup
from schemas.approval_api import (
    ApproverCreate,
    ApproverGroupCreate,
    ApproverGroupOut,
    ApproverGroupPatch,
    ApproverOut,
    ApproverPatch,
    ApproverUpdate,
)
from schemas.ids import new_id
from schemas.tables import ApprovalRuleRow, ApproverGroupRow, ApproverRow
from store import approval_policy
from store.db import begin_write

router = APIRouter(tags=["approvals"])
router.include_router(approval_rules.router)

IncludeInactive = Annotated[
    bool, Query(description="also list deactivated ones (with active: false)")
]


# --- approvers ---------------------------------------------------------------------------


def _approver_out(row: ApproverRow) -> ApproverOut:
    return ApproverOut.model_validate(row, from_attributes=True)


async def _approver(session: AsyncSession, approver_id: str) -> ApproverRow:
    row = await session.get(ApproverRow, approver_id)
    if row is None:
        raise NotFoundError(f"approver {approver_id} does not exist", code="unknown_approver")
    return row


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
        row = await approval_policy.add_approver(session, approver, datetime.now(UTC))
        out = _approver_out(row)
        await audit_change(session, "approver", row.id, "created", api_key.name, None, out)
        await check_policy(session)
        await session.commit()
        return Answer(201, out.model_dump(mode="json"), f"/approvers/{row.id}")

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.get("/approvers", response_model=list[ApproverOut])
async def list_approvers(
    session: SessionDep, _: ApiKeyDep, include_inactive: IncludeInactive = False
) -> list[ApproverOut]:
    rows = await (
        approval_policy.all_approvers(session)
        if include_inactive
        else approval_policy.active_approvers(session)
    )
    return [_approver_out(row) for row in rows]


@router.get("/approvers/{approver_id}", response_model=ApproverOut)
async def get_approver(approver_id: str, session: SessionDep, _: ApiKeyDep) -> ApproverOut:
    return _approver_out(await _approver(session, approver_id))


async def _update_approver(
    session: AsyncSession, approver_id: str, body: ApproverUpdate, actor: str
) -> ApproverOut:
    row = await _approver(session, approver_id)
    require_active(row.active, f"approver {approver_id}")
    before = _approver_out(row)
    if unchanged(before, body):
        return before
    await approval_policy.new_version(session, row, body.model_dump(), datetime.now(UTC))
    after = _approver_out(row)
    await audit_change(session, "approver", row.id, "updated", actor, before, after)
    await check_policy(session)
    await session.commit()
    return after


@router.put("/approvers/{approver_id}", response_model=ApproverOut)
async def replace_approver(
    approver_id: str, body: ApproverUpdate, session: SessionDep, api_key: ApiKeyDep
) -> ApproverOut:
    """A new version of the approver: links sent from now on use it."""
    await begin_write(session)
    return await _update_approver(session, approver_id, body, api_key.name)


@router.patch("/approvers/{approver_id}", response_model=ApproverOut)
async def patch_approver(
    approver_id: str, body: ApproverPatch, session: SessionDep, api_key: ApiKeyDep
) -> ApproverOut:
    await begin_write(session)
    current = _approver_out(await _approver(session, approver_id))
    fields = current.model_dump(mode="json", include=set(ApproverUpdate.model_fields))
    return await _update_approver(
        session, approver_id, merged(ApproverUpdate, fields, body), api_key.name
    )


@router.delete("/approvers/{approver_id}", status_code=204)
async def deactivate_approver(
    approver_id: str, session: SessionDep, api_key: ApiKeyDep
) -> Response:
    """Deactivate (nothing is deleted): no new link goes to them, they leave every group
    and delegation of invoices whose approval starts from now on. Refused (422
    ``inconsistent_policy``) if a group or rule could then not be met. Repeating it is a
    no-op."""
    await begin_write(session)
    row = await _approver(session, approver_id)
    if row.active:
        before = _approver_out(row)
        await approval_policy.new_version(session, row, {"active": False}, datetime.now(UTC))
        after = _approver_out(row)
        await audit_change(session, "approver", row.id, "deactivated", api_key.name, before, after)
        await check_policy(session)
    await session.commit()
    return Response(status_code=204)


# --- groups ------------------------------------------------------------------------------


def _group_out(row: ApproverGroupRow) -> ApproverGroupOut:
    return ApproverGroupOut.model_validate(row, from_attributes=True)


async def _group(session: AsyncSession, group_id: str) -> ApproverGroupRow:
    row = await session.get(ApproverGroupRow, group_id)
    if row is None:
        raise NotFoundError(f"approver group {group_id} does not exist", code="unknown_group")
    return row


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
        await require_approvers(session, [*body.members, *backup])
        group = ApproverGroup(id=new_id("grp"), **body.model_dump())
        row = await approval_policy.add_group(session, group, datetime.now(UTC))
        out = _group_out(row)
        await audit_change(session, "approver_group", row.id, "created", api_key.name, None, out)
        await check_policy(session)
        await session.commit()
        return Answer(201, out.model_dump(mode="json"), f"/approver-groups/{row.id}")

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.get("/approver-groups", response_model=list[ApproverGroupOut])
async def list_groups(
    session: SessionDep, _: ApiKeyDep, include_inactive: IncludeInactive = False
) -> list[ApproverGroupOut]:
    rows = await approval_policy.groups(session, include_inactive=include_inactive)
    return [_group_out(row) for row in rows]


@router.get("/approver-groups/{group_id}", response_model=ApproverGroupOut)
async def get_group(group_id: str, session: SessionDep, _: ApiKeyDep) -> ApproverGroupOut:
    return _group_out(await _group(session, group_id))


async def _update_group(
    session: AsyncSession, group_id: str, body: ApproverGroupCreate, actor: str
) -> ApproverGroupOut:
    row = await _group(session, group_id)
    require_active(row.active, f"approver group {group_id}")
    before = _group_out(row)
    if unchanged(before, body):
        return before
    backup = [body.backup_approver_id] if body.backup_approver_id else []
    await require_approvers(session, [*body.members, *backup])
    await approval_policy.new_version(session, row, body.model_dump(), datetime.now(UTC))
    after = _group_out(row)
    await audit_change(session, "approver_group", row.id, "updated", actor, before, after)
    await check_policy(session)
    await session.commit()
    return after


@router.put("/approver-groups/{group_id}", response_model=ApproverGroupOut)
async def replace_group(
    group_id: str, body: ApproverGroupCreate, session: SessionDep, api_key: ApiKeyDep
) -> ApproverGroupOut:
    """A new version of the group: approval rounds that start from now on use it."""
    await begin_write(session)
    return await _update_group(session, group_id, body, api_key.name)


@router.patch("/approver-groups/{group_id}", response_model=ApproverGroupOut)
async def patch_group(
    group_id: str, body: ApproverGroupPatch, session: SessionDep, api_key: ApiKeyDep
) -> ApproverGroupOut:
    await begin_write(session)
    current = _group_out(await _group(session, group_id))
    fields = current.model_dump(mode="json", include=set(ApproverGroupCreate.model_fields))
    return await _update_group(
        session, group_id, merged(ApproverGroupCreate, fields, body), api_key.name
    )


@router.delete("/approver-groups/{group_id}", status_code=204)
async def deactivate_group(group_id: str, session: SessionDep, api_key: ApiKeyDep) -> Response:
    """Deactivate a group no active rule names (409 ``group_in_use`` names the rules that
    do). Repeating it is a no-op."""
    await begin_write(session)
    row = await _group(session, group_id)
    if row.active:
        users = [r.id for r in await approval_policy.active_rules(session) if _names(r, group_id)]
        if users:
            raise Conflict(
                f"approver group {group_id} is used by active rule(s) {', '.join(users)};"
                " change or deactivate them first",
                code="group_in_use",
                rule_ids=users,
            )
        before = _group_out(row)
        await approval_policy.new_version(session, row, {"active": False}, datetime.now(UTC))
        after = _group_out(row)
        await audit_change(
            session, "approver_group", row.id, "deactivated", api_key.name, before, after
        )
        await check_policy(session)
    await session.commit()
    return Response(status_code=204)


def _names(rule: ApprovalRuleRow, group_id: str) -> bool:
    return any(level.group_id == group_id for level in approval_policy.rule_from_row(rule).levels)
