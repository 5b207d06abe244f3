"""Checks and audit shared by the approval configuration routes."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import Conflict, Unprocessable
from schemas.tables import ApproverRow
from store import approval_policy, audit

Body = TypeVar("Body", bound=BaseModel)


def merged(model: type[Body], current: dict[str, Any], patch: BaseModel) -> Body:
    """A PATCH: the record's fields with the fields sent (null included: it clears an
    optional field), checked as the PUT body (a 422 like any bad body)."""
    sent = patch.model_dump(mode="json", exclude_unset=True)
    try:
        return model.model_validate({**current, **sent})
    except ValidationError as invalid:
        raise RequestValidationError(invalid.errors(include_url=False)) from invalid


async def check_policy(session: AsyncSession) -> None:
    """Refuse a change after which the stored configuration no longer makes a policy."""
    try:
        await approval_policy.load_policy(session)
    except ValidationError as invalid:
        messages = "; ".join(e["msg"] for e in invalid.errors())
        raise Unprocessable(
            f"the approval policy would be inconsistent: {messages}", code="inconsistent_policy"
        ) from invalid


async def require_approvers(session: AsyncSession, ids: list[str]) -> None:
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


def require_active(active: bool, what: str) -> None:
    if not active:
        raise Conflict(f"{what} is deactivated and cannot be changed", code="deactivated")


def unchanged(current: BaseModel, body: BaseModel) -> bool:
    """Whether `body` (a PUT body) says what `current` already is: no new version then."""
    sent = body.model_dump(mode="json")
    now = current.model_dump(mode="json", include=set(sent))
    return all(now.get(key) == value for key, value in sent.items())


async def audit_change(
    session: AsyncSession,
    entity: str,
    entity_id: str,
    change: str,
    actor: str,
    before: BaseModel | None,
    after: BaseModel,
) -> None:
    """One audit event per version: ``{entity}.{change}`` with the version before and after
    (keyed by entity, id and version, so a version is recorded once)."""
    out: dict[str, Any] = after.model_dump(mode="json")
    data: dict[str, Any] = {
        f"{entity.removeprefix('approval_').removeprefix('approver_')}_id": entity_id,
        "version": out.get("version", 1),
        "after": out,
    }
    if before is not None:
        data["before"] = before.model_dump(mode="json")
    await audit.record(
        session,
        step_key=f"{entity}:{entity_id}:v{data['version']}",
        entity=entity,
        action=f"{entity}.{change}",
        actor=actor,
        data=data,
    )
