"""Reminder (dunning) terms: the schedule of reminders an unpaid invoice follows, and the
late-payment charge its contract adds, as the contract stores them and the workflow reads
them from the invoice's snapshot (so a running invoice keeps the terms it was issued under).

A step's moment is its anchor (the due date, or the issue date) plus ``days`` (negative:
before), at 00:00 UTC or at its ``at`` time in the customer's zone; the quiet hours of the
customer then decide when it goes out.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, model_validator

Tone = Literal["gentle", "firm", "final"]
ChargeKind = Literal["fixed", "percent", "statutory_uk", "statutory_eu"]


class ReminderStep(BaseModel):
    key: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    anchor: Literal["due", "issue"] = "due"
    days: int = Field(ge=-365, le=365)
    # the time of day it goes, in the customer's time zone (None: 00:00 UTC, and the
    # customer's quiet hours then hold it until their window opens)
    at: time | None = None
    tone: Tone = "gentle"
    # the channels to try in order; None: the customer's own order
    channels: list[Literal["email", "sms"]] | None = None
    charge: bool = False  # adds the contract's late-payment charge at this step
    collections: bool = False  # after this step the invoice is handed to collections


class LateCharge(BaseModel):
    """What a charging step adds. ``fixed``: ``amount_minor`` each charging step;
    ``percent``: ``percent`` of the overdue balance; ``statutory_uk`` / ``statutory_eu``:
    the statutory interest accrued since the last charge, plus the fixed compensation once."""

    kind: ChargeKind
    amount_minor: int | None = Field(default=None, gt=0)
    percent: Decimal | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _parameters(self) -> LateCharge:
        if self.kind == "fixed" and self.amount_minor is None:
            raise ValueError("a fixed late charge needs amount_minor")
        if self.kind == "percent" and self.percent is None:
            raise ValueError("a percentage late charge needs percent")
        if self.kind.startswith("statutory") and (self.amount_minor or self.percent):
            raise ValueError("statutory interest is set by law: no amount_minor or percent")
        return self


class ReminderTerms(BaseModel):
    """A contract's schedule, checked as a whole: unique keys, no charge before the due
    date (nothing is late yet), at most one collections step (the last one by default)."""

    steps: list[ReminderStep] = Field(max_length=20)
    late_charge: LateCharge | None = None

    @model_validator(mode="after")
    def _coherent(self) -> ReminderTerms:
        keys = [step.key for step in self.steps]
        if len(set(keys)) != len(keys):
            raise ValueError("each reminder step needs its own key")
        for step in self.steps:
            if step.charge and (step.anchor != "due" or step.days < 1):
                raise ValueError(
                    f"step {step.key!r} charges before the invoice is overdue:"
                    " a charging step is at least 1 day after the due date"
                )
        if sum(step.collections for step in self.steps) > 1:
            raise ValueError("only one reminder step can hand the invoice to collections")
        return self


def default_terms() -> ReminderTerms:
    """3 days before due, then 1, 7, 14 and 30 days after; the last hands to collections."""
    return ReminderTerms(
        steps=[
            ReminderStep(key="before-due-3", days=-3, tone="gentle"),
            ReminderStep(key="overdue-1", days=1, tone="gentle"),
            ReminderStep(key="overdue-7", days=7, tone="firm"),
            ReminderStep(key="overdue-14", days=14, tone="firm", charge=True),
            ReminderStep(key="overdue-30", days=30, tone="final", charge=True, collections=True),
        ]
    )


ReminderOutcome = Literal["sent", "superseded", "skipped", "failed"]


class ReminderView(BaseModel):
    """One step as the invoice went through it (the state query, `GET /invoices/{id}`)."""

    key: str
    due_at: datetime
    outcome: ReminderOutcome
    at: datetime
    channel: str | None = None
    amount_minor: int = 0  # what the reminder asked for
    charge_minor: int = 0  # the late charge it added
    charge_invoice_id: str | None = None
    note: str | None = None


class ChargeDay(BaseModel):
    """A reduction of the outstanding amount on a day (a payment, a credit), for interest."""

    on: date
    amount_minor: int
