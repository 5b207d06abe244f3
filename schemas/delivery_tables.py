"""Tables for delivery (see migration 0012): the customer's delivery preferences, each
invoice's delivery plan, and every try of every channel.

The preferences live beside the customer, not on its row: customer rows are write-once
(`store.parties.PartiesCache` keeps them for a process's lifetime), while a customer's
time zone or channel order changes (`PATCH /customers/{id}`); they are read fresh when an
invoice is generated. The plan is what that generation resolved (the preferences over the
settings' defaults), fixed per invoice, so every later snapshot of the invoice (after a
correction, for its documents) carries the same plan without reading the settings.

A `DeliveryAttemptRow` is one channel tried once within one attempt of a delivery
activity (the invoice e-mail, a reminder): sent, refused for good, unavailable (a
provider outage), or skipped (no address, or refused in an earlier attempt). Its id is
``{invoice_id}:{purpose}:{activity_attempt}:{channel}``, so a retried write lands once,
and a later activity attempt, which is a new try, gets rows of its own. The delivery
that succeeded is also in `deliveries` (one row per message sent); these rows say how it
got there, for the API and operations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from schemas.tables import UTCDateTime


def _utc(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class DeliveryAttemptRow(SQLModel, table=True):
    __tablename__ = "delivery_attempts"

    id: str = Field(primary_key=True)  # {invoice_id}:{purpose}:{activity_attempt}:{channel}
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    purpose: str  # "issue"; a reminder's own name ("reminder-<step>")
    activity_attempt: int  # Temporal's attempt number of the activity that tried
    position: int  # the channel's place in this try (0 first)
    channel: str
    outcome: str  # sent, refused, unavailable, skipped
    recipient: str | None = None
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    at: datetime = _utc()


class CustomerDeliveryRow(SQLModel, table=True):
    """A customer's own choices; a field left null takes the settings' default."""

    __tablename__ = "customer_delivery"

    customer_id: str = Field(primary_key=True, foreign_key="customers.id")
    timezone: str | None = None  # IANA name (INVOICEFLOW_DEFAULT_TIMEZONE)
    # domain.delivery_window.QuietHours as JSON (INVOICEFLOW_QUIET_HOURS)
    quiet_hours: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    channel_order: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    updated_at: datetime = _utc()


class InvoiceDeliveryRow(SQLModel, table=True):
    """The delivery plan an invoice was generated with (schemas.delivery.DeliveryPlan)."""

    __tablename__ = "invoice_delivery"

    invoice_id: str = Field(primary_key=True, foreign_key="invoices.id")
    timezone: str
    # null: any hour (the customer or the settings turned quiet hours off)
    quiet_hours: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    channel_order: list[str] = Field(sa_column=Column(JSON, nullable=False))
