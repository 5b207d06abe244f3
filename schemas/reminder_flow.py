"""What the reminder stage and its activity exchange (apart from the terms, which the
invoice snapshot carries: ``schemas.reminders``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from domain.invoicing import ExplicitLine
from schemas.invoice import InvoiceSnapshot
from schemas.reminders import ReminderStep, Tone


class SupersededStep(BaseModel):
    key: str
    tone: Tone
    due_at: datetime


class SendReminderInput(BaseModel):
    invoice: InvoiceSnapshot
    step: ReminderStep
    due_at: datetime
    balance_minor: int  # what the reminder asks for: the balance less what is disputed
    disputed_minor: int = 0
    payment_url: str | None = None
    channel_order: list[str] = Field(default_factory=list)  # the customer's; [] = default
    # earlier steps that fell due while none could be sent: recorded as superseded
    superseded: list[SupersededStep] = Field(default_factory=list)
    # when the next step falls due: an attempt first made after it (the channels were down
    # that long) sends nothing and records this step as superseded, for the next to go
    stale_after: datetime | None = None


class SendReminderResult(BaseModel):
    """``sent`` (by ``channel``), ``failed`` (no channel reached the customer: recorded,
    nothing charged), ``held`` (not sent; asked again at ``held_until``), or
    ``superseded`` (not sent: the next step fell due before it could go)."""

    outcome: str
    channel: str | None = None
    held_until: datetime | None = None
    hold_reason: str | None = None
    failed: str | None = None
    charge_minor: int = 0
    charge_invoice_id: str | None = None
    # the late-charge invoice's lines, in the customer's language
    charge_lines: list[ExplicitLine] = Field(default_factory=list)
