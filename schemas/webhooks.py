"""Outgoing webhooks: the inputs and results of their workflows and activities, the retry
schedule, the workflow ids, and the API's bodies.

The schedule travels in the workflow inputs (not read from settings inside a workflow),
so a running delivery keeps the schedule it started with, and tests can hand in a fast
one while the time-skipping test checks the real one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from domain.webhooks import ALL_EVENTS, EVENT_TYPES

WEBHOOK_DISPATCHER_WORKFLOW = "WebhookDispatcher"
WEBHOOK_DELIVERY_WORKFLOW = "WebhookDelivery"
SEND_ACTIVITY = "webhooks.send"


def dispatcher_workflow_id(task_queue: str) -> str:
    """One dispatcher per task queue (production has one; each test stack its own)."""
    return f"webhook-dispatcher-{task_queue}"


def delivery_workflow_id(delivery_id: str, series: int = 1) -> str:
    """`webhook-{delivery_id}`, and for a resend `webhook-{delivery_id}-s{series}`: the
    same delivery is never started twice, a resend is a new series."""
    return f"webhook-{delivery_id}" if series == 1 else f"webhook-{delivery_id}-s{series}"


class RetrySchedule(BaseModel):
    """Exponential backoff: 30 s, 1, 2, 4 … 256 min, then every 6 h, for 3 days in all:
    about 20 attempts, a receiver down for a weekend still gets everything on Monday."""

    initial_interval_s: float = 30.0
    backoff_coefficient: float = 2.0
    maximum_interval_s: float = 6 * 3600.0
    give_up_after_s: float = 3 * 24 * 3600.0
    attempt_timeout_s: float = 15.0  # one POST, the receiver's time to answer included

    @property
    def give_up_after(self) -> timedelta:
        return timedelta(seconds=self.give_up_after_s)


class DispatcherInput(BaseModel):
    task_queue: str
    poll_every_s: float = 2.0
    schedule: RetrySchedule = Field(default_factory=RetrySchedule)
    # a young row is read again until it is this old, so a transaction that took a lower
    # id but committed later is still seen (see store.webhooks.read_source)
    settle_s: float = 30.0
    polls_before_continue_as_new: int = 500


class FanOutInput(BaseModel):
    task_queue: str
    schedule: RetrySchedule
    settle_s: float
    batch_size: int = 500


class FanOutResult(BaseModel):
    events: int = 0  # new public events written
    deliveries: int = 0  # new deliveries fanned out
    started: int = 0  # delivery workflows started (new, or left unstarted by a crash)
    more: bool = False  # a source had a full batch: read again at once


class DeliveryInput(BaseModel):
    delivery_id: str
    series: int = 1
    schedule: RetrySchedule = Field(default_factory=RetrySchedule)


class SendInput(BaseModel):
    delivery_id: str
    series: int = 1
    timeout_s: float = 15.0


class SendResult(BaseModel):
    status_code: int
    attempt: int


class FinishInput(BaseModel):
    delivery_id: str
    status: str  # delivered, failed, disabled
    error: str | None = None


class DeliveryResult(BaseModel):
    delivery_id: str
    series: int
    status: str
    attempts: int = 0
    error: str | None = None


# --- API ---------------------------------------------------------------------------------


class WebhookEndpointCreate(BaseModel):
    url: str = Field(max_length=2000, description="https:// (http:// in development and test)")
    event_types: list[str] = Field(
        min_length=1,
        max_length=len(EVENT_TYPES),
        description=f"any of {', '.join(EVENT_TYPES)}, or {ALL_EVENTS!r} for all",
    )
    description: str = Field(default="", max_length=500)


class WebhookEndpointOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str
    active: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    created_at: datetime


class WebhookEndpointCreated(WebhookEndpointOut):
    secret: str = Field(description="whsec_<base64>: shown this once; verify deliveries with it")


class WebhookEndpointPage(BaseModel):
    items: list[WebhookEndpointOut]


class WebhookAttemptOut(BaseModel):
    series: int
    attempt: int
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    outcome: str
    retry_after_s: float | None


class WebhookDeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    invoice_id: str | None
    endpoint_id: str
    status: str
    series: int
    attempts: list[WebhookAttemptOut]
    delivered_at: datetime | None
    created_at: datetime
    payload: dict[str, object]


class WebhookDeliveryPage(BaseModel):
    items: list[WebhookDeliveryOut]
    total: int
    limit: int
    offset: int


class ResendResult(BaseModel):
    delivery_id: str
    event_id: str
    series: int
    workflow_id: str
