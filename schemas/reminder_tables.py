"""Reminders as they went out, and holds on them.

A `ReminderRow` is one step of one invoice's schedule, written once (its id is
``{invoice_id}:{step_key}``): a retried send finds the row and the charge it priced, so a
step is charged and sent once whatever the retries. A `ReminderHoldRow` stops reminders
for one invoice, or for every invoice of one customer, until a date (or until released).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column
from sqlmodel import Field, SQLModel

from schemas.tables import UTCDateTime


def _utc(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class ReminderRow(SQLModel, table=True):
    __tablename__ = "reminders"

    id: str = Field(primary_key=True)  # {invoice_id}:{step_key}
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    step_key: str
    tone: str
    due_at: datetime = _utc()
    outcome: str  # sent, superseded, skipped, failed
    channel: str | None = None
    amount_minor: int = Field(default=0, sa_type=BigInteger)  # what it asked for
    fee_minor: int = Field(default=0, sa_type=BigInteger)
    interest_minor: int = Field(default=0, sa_type=BigInteger)
    compensation_minor: int = Field(default=0, sa_type=BigInteger)
    annual_rate: str | None = None  # the statutory rate the interest used, e.g. "11.75"
    charge_invoice_id: str | None = None  # the late-charge invoice carrying the charge
    note: str | None = None
    recorded_at: datetime = _utc()


class ReminderHoldRow(SQLModel, table=True):
    __tablename__ = "reminder_holds"
    __table_args__ = (
        CheckConstraint(
            "(invoice_id IS NULL) <> (customer_id IS NULL)", name="ck_reminder_holds_target"
        ),
    )

    id: str = Field(primary_key=True)  # rhd_...
    invoice_id: str | None = Field(default=None, foreign_key="invoices.id", index=True)
    customer_id: str | None = Field(default=None, foreign_key="customers.id", index=True)
    reason: str
    until: datetime = _utc()
    held_by: str
    created_at: datetime = _utc()
    released_at: datetime | None = _utc(nullable=True)
    released_by: str | None = None
