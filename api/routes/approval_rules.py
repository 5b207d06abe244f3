"""Approval configuration: rules and delegations (see `api.routes.approval_config` for
what every change is checked against, and how versions work).

A rule has a currency scope (``currencies``, by default its threshold's currency): it
never stops an invoice in another currency, and a scope whose currencies the threshold
cannot be compared with (no exchange rate configured) is refused when the rule is made
(422 ``scope_needs_rates``), not discovered by an invoice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

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
from api.deps import ApiKeyDep, IdempotencyKeyDep, SessionDep, SettingsDep
from api.errors import Conflict, NotFoundError, Unprocessable
from api.idempotency import Answer, idempotent
from core.settings import Settings
from domain.approval import ApprovalRule, Delegation, rates_missing
from schemas.approval_api import (
    ApprovalRuleCreate,
    ApprovalRuleOut,
    ApprovalRulePatch,
    DelegationCreate,
    DelegationOut,
    DelegationPatch,
)
from schemas.ids import new_id
from schemas.tables import ApprovalRuleRow, ApproverGroupRow, ApproverRow, Customer, DelegationRow
from store import approval_policy
from store.db import begin_write

router = APIRouter(tags=["approvals"])

IncludeInactive = Annotated[
    bool, Query(description="also list deactivated ones (with active: false)")
]


# --- rules -------------------------------------------------------------------------------


def _rule_out(row: ApprovalRuleRow) -> ApprovalRuleOut:
    rule = approval_policy.rule_from_row(row)
    return ApprovalRuleOut(
        id=row.id,
        position=row.position,
        description=row.description,
        document_types=sorted(rule.document_types),
        min_amount_minor=rule.min_amount_minor,
        currency=rule.currency,
        currencies=sorted(rule.currencies),
        customer_ids=sorted(rule.customer_ids),
        regions=sorted(rule.regions),
        requires_po_variance=rule.requires_po_variance,
        levels=rule.levels,
        active=row.active,
        created_at=row.created_at,
        version=row.version,
        updated_at=row.updated_at,
    )


async def _rule_row(session: AsyncSession, rule_id: str) -> ApprovalRuleRow:
    row = await session.get(ApprovalRuleRow, rule_id)
    if row is None:
        raise NotFoundError(f"approval rule {rule_id} does not exist", code="unknown_rule")
    return row


async def _checked_rule(
    session: AsyncSession, settings: Settings, rule_id: str, body: ApprovalRuleCreate
) -> ApprovalRule:
    """The rule `body` describes, once what it names resolves and its scope can be met."""
    for position, level in enumerate(body.levels, start=1):
        group = await session.get(ApproverGroupRow, level.group_id)
        if group is None or not group.active:
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
            raise Unprocessable(f"customer {customer_id} does not exist", code="unknown_customer")
    fields = body.model_dump()
    if fields["currencies"] is None:  # the default scope: the threshold's own currency
        threshold = body.currency if body.min_amount_minor is not None else None
        fields["currencies"] = [threshold] if threshold else []
    rule = ApprovalRule(id=rule_id, **fields)
    missing = rates_missing(rule, settings.approval_rates)
    if missing:
        scope = ", ".join(sorted(rule.currencies)) or "any currency"
        raise Unprocessable(
            f"the rule's threshold is in {rule.currency}, and its currency scope ({scope})"
            f" includes {', '.join(missing)}, for which no exchange rate is configured"
            " (INVOICEFLOW_APPROVAL_RATES): narrow the scope (`currencies`) or add the rates",
            code="scope_needs_rates",
            currencies=missing,
        )
    return rule


@router.post("/approval-rules", status_code=201, response_model=ApprovalRuleOut)
async def create_rule(
    body: ApprovalRuleCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    api_key: ApiKeyDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> JSONResponse:
    async def produce() -> Answer:
        await begin_write(session)
        rule = await _checked_rule(session, settings, new_id("rule"), body)
        row = await approval_policy.add_rule(session, rule, datetime.now(UTC))
        out = _rule_out(row)
        await audit_change(session, "approval_rule", row.id, "created", api_key.name, None, out)
        await check_policy(session)
        await session.commit()
        return Answer(201, out.model_dump(mode="json"), f"/approval-rules/{row.id}")

    return await idempotent(
        session, request, api_key, idempotency_key, body.model_dump(mode="json"), produce
    )


@router.get("/approval-rules", response_model=list[ApprovalRuleOut])
async def list_rules(
    session: SessionDep, _: ApiKeyDep, include_inactive: IncludeInactive = False
) -> list[ApprovalRuleOut]:
    """Rules in policy order (active ones only, unless asked)."""
    rows = await approval_policy.rules(session, include_inactive=include_inactive)
    return [_rule_out(row) for row in rows]


@router.get("/approval-rules/{rule_id}", response_model=ApprovalRuleOut)
async def get_rule(rule_id: str, session: SessionDep, _: ApiKeyDep) -> ApprovalRuleOut:
    return _rule_out(await _rule_row(session, rule_id))


def _rule_body(out: ApprovalRuleOut) -> dict[str, Any]:
    return out.model_dump(mode="json", include=set(ApprovalRuleCreate.model_fields))


async def _update_rule(
    session: AsyncSession, settings: Settings, rule_id: str, body: ApprovalRuleCreate, actor: str
) -> ApprovalRuleOut:
    row = await _rule_row(session, rule_id)
    require_active(row.active, f"approval rule {rule_id}")
    before = _rule_out(row)
    rule = await _checked_rule(session, settings, rule_id, body)
    changes = {"description": rule.description, "definition": approval_policy.rule_definition(rule)}
    if changes == {"description": row.description, "definition": row.definition}:
        return before
    await approval_policy.new_version(session, row, changes, datetime.now(UTC))
    after = _rule_out(row)
    await audit_change(session, "approval_rule", row.id, "updated", actor, before, after)
    await check_policy(session)
    await session.commit()
    return after


@router.put("/approval-rules/{rule_id}", response_model=ApprovalRuleOut)
async def replace_rule(
    rule_id: str,
    body: ApprovalRuleCreate,
    session: SessionDep,
    settings: SettingsDep,
    api_key: ApiKeyDep,
) -> ApprovalRuleOut:
    """A new version of the rule (it keeps its place in the policy order). Approval rounds
    already running keep the chain they started with."""
    await begin_write(session)
    return await _update_rule(session, settings, rule_id, body, api_key.name)


@router.patch("/approval-rules/{rule_id}", response_model=ApprovalRuleOut)
async def patch_rule(
    rule_id: str,
    body: ApprovalRulePatch,
    session: SessionDep,
    settings: SettingsDep,
    api_key: ApiKeyDep,
) -> ApprovalRuleOut:
    """Change the fields sent. Changing the threshold's currency without sending
    ``currencies`` scopes the rule to the new currency."""
    await begin_write(session)
    current = _rule_body(_rule_out(await _rule_row(session, rule_id)))
    sent = body.model_fields_set
    if "currency" in sent and "currencies" not in sent:
        if current["currencies"] == [current["currency"]]:
            current["currencies"] = None  # the default scope follows the threshold's currency
    return await _update_rule(
        session, settings, rule_id, merged(ApprovalRuleCreate, current, body), api_key.name
    )


@router.delete("/approval-rules/{rule_id}", status_code=204)
async def deactivate_rule(rule_id: str, session: SessionDep, api_key: ApiKeyDep) -> Response:
    """Deactivate the rule: invoices whose approval starts from now on ignore it; running
    rounds keep their chain. Repeating it is a no-op."""
    await begin_write(session)
    row = await _rule_row(session, rule_id)
    if row.active:
        before = _rule_out(row)
        await approval_policy.new_version(session, row, {"active": False}, datetime.now(UTC))
        after = _rule_out(row)
        await audit_change(
            session, "approval_rule", row.id, "deactivated", api_key.name, before, after
        )
        await check_policy(session)
    await session.commit()
    return Response(status_code=204)


# --- delegations -------------------------------------------------------------------------


def _delegation_out(row: DelegationRow) -> DelegationOut:
    return DelegationOut.model_validate(row, from_attributes=True)


async def _delegation_row(
    session: AsyncSession, approver_id: str, delegation_id: str
) -> DelegationRow:
    row = await session.get(DelegationRow, delegation_id)
    if row is None or row.approver_id != approver_id:
        raise NotFoundError(
            f"approver {approver_id} has no delegation {delegation_id}", code="unknown_delegation"
        )
    return row


async def _check_delegation(
    session: AsyncSession, approver_id: str, body: DelegationCreate, itself: str | None = None
) -> None:
    if body.delegate_id == approver_id:
        raise Unprocessable(
            f"approver {approver_id} cannot delegate to themselves", code="self_delegation"
        )
    await require_approvers(session, [body.delegate_id])
    for other in await approval_policy.delegations_of(session, approver_id, include_revoked=False):
        if other.id != itself and other.starts <= body.ends and body.starts <= other.ends:
            raise Conflict(
                f"approver {approver_id} already delegates to {other.delegate_id} from "
                f"{other.starts} to {other.ends} (delegation {other.id}); revoke it first",
                code="delegation_overlaps",
                delegation_id=other.id,
            )


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
        await _check_delegation(session, approver_id, body)
        delegation = Delegation(approver_id=approver_id, **body.model_dump())
        row = await approval_policy.add_delegation(
            session, new_id("dlg"), delegation, datetime.now(UTC)
        )
        out = _delegation_out(row)
        await audit_change(session, "delegation", row.id, "created", api_key.name, None, out)
        await check_policy(session)
        await session.commit()
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
    rows = await approval_policy.delegations_of(session, approver_id)
    return [_delegation_out(row) for row in rows]


@router.get("/approvers/{approver_id}/delegations/{delegation_id}", response_model=DelegationOut)
async def get_delegation(
    approver_id: str, delegation_id: str, session: SessionDep, _: ApiKeyDep
) -> DelegationOut:
    return _delegation_out(await _delegation_row(session, approver_id, delegation_id))


async def _update_delegation(
    session: AsyncSession, approver_id: str, delegation_id: str, body: DelegationCreate, actor: str
) -> DelegationOut:
    row = await _delegation_row(session, approver_id, delegation_id)
    require_active(row.revoked_at is None, f"delegation {delegation_id}")
    before = _delegation_out(row)
    if unchanged(before, body):
        return before
    await _check_delegation(session, approver_id, body, itself=row.id)
    await approval_policy.new_version(session, row, body.model_dump(), datetime.now(UTC))
    after = _delegation_out(row)
    await audit_change(session, "delegation", row.id, "updated", actor, before, after)
    await check_policy(session)
    await session.commit()
    return after


@router.put("/approvers/{approver_id}/delegations/{delegation_id}", response_model=DelegationOut)
async def replace_delegation(
    approver_id: str,
    delegation_id: str,
    body: DelegationCreate,
    session: SessionDep,
    api_key: ApiKeyDep,
) -> DelegationOut:
    """A new version of the delegation (other delegate or dates)."""
    await begin_write(session)
    return await _update_delegation(session, approver_id, delegation_id, body, api_key.name)


@router.patch("/approvers/{approver_id}/delegations/{delegation_id}", response_model=DelegationOut)
async def patch_delegation(
    approver_id: str,
    delegation_id: str,
    body: DelegationPatch,
    session: SessionDep,
    api_key: ApiKeyDep,
) -> DelegationOut:
    await begin_write(session)
    current = _delegation_out(await _delegation_row(session, approver_id, delegation_id))
    fields = current.model_dump(mode="json", include=set(DelegationCreate.model_fields))
    return await _update_delegation(
        session, approver_id, delegation_id, merged(DelegationCreate, fields, body), api_key.name
    )


@router.delete("/approvers/{approver_id}/delegations/{delegation_id}", status_code=204)
async def revoke_delegation(
    approver_id: str, delegation_id: str, session: SessionDep, api_key: ApiKeyDep
) -> Response:
    """Revoke (deactivate) a delegation: links sent from now on go to the approver again.
    Revoking a revoked delegation is a no-op (204)."""
    await begin_write(session)
    row = await _delegation_row(session, approver_id, delegation_id)
    if row.revoked_at is None:
        before = _delegation_out(row)
        at = datetime.now(UTC)
        await approval_policy.new_version(session, row, {"revoked_at": at}, at)
        after = _delegation_out(row)
        await audit_change(session, "delegation", row.id, "revoked", api_key.name, before, after)
    await session.commit()
    return Response(status_code=204)
