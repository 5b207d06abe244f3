"""Webhook endpoints, deliveries and attempts: what the API and the send activity read and
write (the fan-out from the audit trail is `store.webhook_outbox`)."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.ids import new_id
from schemas.webhook_tables import (
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookEventRow,
)
from store.db import insert_if_absent


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64 (24-64 bytes
    is what the spec asks for)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def create_endpoint(
    session: AsyncSession, *, url: str, event_types: list[str], description: str, created_by: str
) -> WebhookEndpointRow:
    row = WebhookEndpointRow(
        id=new_id("whe"),
        url=url,
        event_types=event_types,
        secret=new_secret(),
        description=description,
        active=True,
        created_by=created_by,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.flush()
    return row


async def list_endpoints(session: AsyncSession) -> list[WebhookEndpointRow]:
    rows = await session.exec(
        select(WebhookEndpointRow).order_by(col(WebhookEndpointRow.created_at).desc())
    )
    return list(rows)


async def disable_endpoint(session: AsyncSession, endpoint_id: str, reason: str) -> bool:
    """Stop sending to it (kept, with its deliveries, for the record); True if it was on."""
    row = await session.get(WebhookEndpointRow, endpoint_id)
    if row is None or not row.active:
        return False
    row.active = False
    row.disabled_reason = reason
    row.disabled_at = datetime.now(UTC)
    session.add(row)
    await session.flush()
    return True


async def deliveries(
    session: AsyncSession, endpoint_id: str, *, limit: int, offset: int
) -> tuple[list[tuple[WebhookDeliveryRow, WebhookEventRow]], int]:
    """The endpoint's deliveries, newest first, with their events."""
    query = (
        select(WebhookDeliveryRow, WebhookEventRow)
        .join(WebhookEventRow, col(WebhookEventRow.id) == col(WebhookDeliveryRow.event_id))
        .where(WebhookDeliveryRow.endpoint_id == endpoint_id)
    )
    rows = await session.exec(
        query.order_by(col(WebhookDeliveryRow.created_at).desc(), col(WebhookDeliveryRow.id))
        .limit(limit)
        .offset(offset)
    )
    counted = await session.exec(
        select(func.count()).where(col(WebhookDeliveryRow.endpoint_id) == endpoint_id)
    )
    return [(delivery, event) for delivery, event in rows], int(counted.one())


async def attempts_of(
    session: AsyncSession, delivery_ids: list[str]
) -> dict[str, list[WebhookAttemptRow]]:
    found: dict[str, list[WebhookAttemptRow]] = {delivery: [] for delivery in delivery_ids}
    if not delivery_ids:
        return found
    rows = await session.exec(
        select(WebhookAttemptRow)
        .where(col(WebhookAttemptRow.delivery_id).in_(delivery_ids))
        .order_by(col(WebhookAttemptRow.series), col(WebhookAttemptRow.attempt))
    )
    for row in rows:
        found[row.delivery_id].append(row)
    return found


async def delivery_context(
    session: AsyncSession, delivery_id: str
) -> tuple[WebhookDeliveryRow, WebhookEventRow, WebhookEndpointRow] | None:
    delivery = await session.get(WebhookDeliveryRow, delivery_id)
    if delivery is None:
        return None
    event = await session.get(WebhookEventRow, delivery.event_id)
    endpoint = await session.get(WebhookEndpointRow, delivery.endpoint_id)
    assert event is not None and endpoint is not None
    return delivery, event, endpoint


async def record_attempt(session: AsyncSession, delivery_id: str, **values: Any) -> None:
    """The attempt's row (once per delivery, series and attempt), and the delivery's
    latest state beside it."""
    if not await insert_if_absent(session, WebhookAttemptRow, delivery_id=delivery_id, **values):
        return  # this attempt's row is there already (a retried write)
    delivery = await session.get(WebhookDeliveryRow, delivery_id)
    assert delivery is not None
    delivery.attempts += 1
    delivery.last_status_code = values.get("status_code")
    delivery.last_error = values.get("error")
    delivery.updated_at = values["at"]
    if values["outcome"] == "delivered":
        delivery.status = "delivered"
        delivery.delivered_at = values["at"]
    session.add(delivery)


async def finish(session: AsyncSession, delivery_id: str, status: str, error: str | None) -> None:
    """A series ended without a 2xx: gave up (failed) or the endpoint is off (disabled)."""
    delivery = await session.get(WebhookDeliveryRow, delivery_id)
    if delivery is None or delivery.status == "delivered":
        return
    delivery.status = status
    delivery.last_error = error or delivery.last_error
    delivery.updated_at = datetime.now(UTC)
    session.add(delivery)


async def begin_resend(session: AsyncSession, delivery_id: str) -> WebhookDeliveryRow | None:
    """A new attempt series for the same event and endpoint (same event id)."""
    delivery = await session.get(WebhookDeliveryRow, delivery_id)
    if delivery is None:
        return None
    delivery.series += 1
    delivery.status = "pending"
    # the API starts the series' workflow at once; should it die first, the dispatcher's
    # next poll finds the delivery unstarted and starts it (the id makes it once)
    delivery.started = False
    delivery.updated_at = datetime.now(UTC)
    session.add(delivery)
    await session.flush()
    return delivery
