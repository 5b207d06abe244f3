"""The append-only audit trail: every step writes one event, once, keyed by the step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.tables import AuditEvent
from store.db import insert_if_absent


async def record(
    session: AsyncSession,
    *,
    step_key: str,
    entity: str,
    action: str,
    actor: str,
    invoice_id: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> bool:
    return await insert_if_absent(
        session,
        AuditEvent,
        step_key=step_key,
        invoice_id=invoice_id,
        entity=entity,
        action=action,
        actor=actor,
        at=at or datetime.now(UTC),
        data=data or {},
    )


async def trail(session: AsyncSession, invoice_id: str) -> list[AuditEvent]:
    rows = await session.exec(
        select(AuditEvent).where(AuditEvent.invoice_id == invoice_id).order_by(col(AuditEvent.id))
    )
    return list(rows)
