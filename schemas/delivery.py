"""Delivery preferences and plans: the customer's time zone, quiet hours and channel order.

`DeliveryPlan` is what an invoice snapshot carries, resolved when the invoice is generated
(the customer's choices over the settings' defaults), so the workflow decides when to send
from data alone. A snapshot from before quiet hours has the default plan: any hour, the
e-mail then SMS, which is what those invoices did.

Channels: the names a customer's `channel_order` may use. Another channel is a name here
and a sender in `activities.delivery` (and the reminders' sender).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.delivery_window import QuietHours
from domain.tasks.timing import load_zone

Channel = Literal["email", "sms"]
CHANNELS: tuple[Channel, ...] = ("email", "sms")
DEFAULT_CHANNEL_ORDER: list[Channel] = ["email", "sms"]


def known_zone(value: str) -> str:
    """An IANA zone name the tz database knows (a ValueError otherwise, for validators)."""
    load_zone(value)
    return value


def channel_order(value: list[Channel]) -> list[Channel]:
    """Each channel at most once, at least one."""
    if len(set(value)) != len(value):
        raise ValueError("a channel appears more than once in channel_order")
    return value


class DeliveryPlan(BaseModel):
    """How an invoice goes out: quiet hours (None: any hour) in `timezone`, channels in
    `channel_order`."""

    model_config = ConfigDict(frozen=True)

    timezone: str = "UTC"
    quiet_hours: QuietHours | None = None
    channel_order: list[Channel] = Field(default_factory=lambda: list(DEFAULT_CHANNEL_ORDER))


class DeliveryPreferencesIn(BaseModel):
    """A customer's delivery fields, on `POST /customers` and `PATCH /customers/{id}`.

    Left out (or null): the settings' default (`INVOICEFLOW_DEFAULT_TIMEZONE`,
    `INVOICEFLOW_QUIET_HOURS`, e-mail then SMS)."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(
        default=None, max_length=64, description="IANA time zone, e.g. Europe/London"
    )
    quiet_hours: QuietHours | None = Field(
        default=None,
        description="the customer's delivery window: start, end (HH:MM, their time),"
        " working_days (0 = Monday), enabled; null: the default window",
    )
    channel_order: list[Channel] | None = Field(
        default=None,
        min_length=1,
        description='channels to try in order, e.g. ["sms", "email"]',
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)

    @field_validator("channel_order")
    @classmethod
    def _order(cls, value: list[Channel] | None) -> list[Channel] | None:
        return None if value is None else channel_order(value)


class DeliveryPreferencesOut(BaseModel):
    """The customer's delivery fields as they apply: the time zone and channel order in
    force (their own or the default), their own quiet hours (null: the default window)."""

    timezone: str
    quiet_hours: QuietHours | None = None
    channel_order: list[Channel]


class DeliveryAttemptOut(BaseModel):
    """One channel tried once (`GET /invoices/{id}`, `delivery_attempts`)."""

    purpose: str
    activity_attempt: int
    channel: str
    outcome: str  # sent, refused, unavailable, skipped
    recipient: str | None = None
    detail: str | None = None
    at: datetime
