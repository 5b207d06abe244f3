"""Outgoing webhooks: the upstream apps' subscriptions, the events they are sent, and
every delivery attempt.

An event (`WebhookEventRow`) is written once per business fact, keyed by an id derived
from the audit step that recorded it, so the id is stable across retries and resends and
a receiver can dedupe on it. A delivery is one event for one endpoint, unique per
(event, endpoint): the dispatcher may read an audit row twice (see
`workflows.webhook_dispatcher`) and still fans it out once. An attempt is one HTTP POST,
kept whatever its outcome, so "what did you send us, when, and what did we answer" has
an answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from schemas.tables import UTCDateTime


def _utc(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class WebhookEndpointRow(SQLModel, table=True):
    """A subscription: where to POST which event types, signed with this endpoint's own
    secret. The secret is kept as is (it signs every delivery, so it cannot be a hash);
    it leaves the API once, on creation."""

    __tablename__ = "webhook_endpoints"

    id: str = Field(primary_key=True)  # whe_...
    url: str = Field(sa_column=Column(Text, nullable=False))
    event_types: list[str] = Field(sa_column=Column(JSON, nullable=False))  # or ["*"]
    secret: str  # whsec_<base64>
    description: str = ""
    active: bool = True
    # why it stopped: "deleted" (DELETE), "gone" (the receiver answered 410)
    disabled_reason: str | None = None
    disabled_at: datetime | None = _utc(nullable=True)
    created_by: str
    created_at: datetime = _utc()


class WebhookEventRow(SQLModel, table=True):
    """One public event, its body fixed when written: every attempt and every resend
    signs and sends these same bytes' content under the same id."""

    __tablename__ = "webhook_events"

    id: str = Field(primary_key=True)  # evt_<hash of the source step>
    type: str = Field(index=True)
    invoice_id: str | None = Field(default=None, index=True)
    source_key: str  # the audit step (or dispute event) it came from
    occurred_at: datetime = _utc()
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _utc()


class WebhookDeliveryRow(SQLModel, table=True):
    """One event for one endpoint. `series` counts attempt series: 1 for the first, +1
    per resend on request; each series is a `WebhookDelivery` workflow of its own."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "endpoint_id"),)

    id: str = Field(primary_key=True)  # whd_<hash of event and endpoint>
    event_id: str = Field(foreign_key="webhook_events.id", index=True)
    endpoint_id: str = Field(foreign_key="webhook_endpoints.id", index=True)
    # pending, delivered, failed (gave up), disabled (the endpoint was off or gone)
    status: str = "pending"
    series: int = 1
    started: bool = False  # its workflow has been started (the dispatcher's own bookkeeping)
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = _utc(nullable=True)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class WebhookAttemptRow(SQLModel, table=True):
    """One POST: unique per (delivery, series, attempt), so an activity attempt that is
    retried by a crashed worker's replacement still writes one row."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "series", "attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(foreign_key="webhook_deliveries.id", index=True)
    series: int
    attempt: int
    at: datetime = _utc()
    status_code: int | None = None
    duration_ms: int
    error: str | None = None
    outcome: str  # delivered, retry, gone (410), error (no answer: timeout, connection)
    retry_after_s: float | None = None


class WebhookCursorRow(SQLModel, table=True):
    """Where the dispatcher has read a source up to: the highest id read, and the ids
    below it not seen yet (`gaps`, id -> when first missed), which are looked for again
    until they are `settle_s` old (see `store.webhook_outbox`)."""

    __tablename__ = "webhook_cursors"

    source: str = Field(primary_key=True)  # audit_events, dispute_events
    last_id: int
    gaps: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _utc()
