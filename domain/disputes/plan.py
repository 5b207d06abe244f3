"""Where a payment plan stands: which instalments are paid, due or overdue.

A plan agreed in a dispute replaces the invoice's single due date by several. Payments
made after the plan started pay its instalments in due-date order (the oldest first, as
a customer expects), so each instalment is collected and tracked on its own: it is paid
once the payments cover it and every one before it, and overdue from 00:00 UTC the day
after its due date while not paid. Pure: the caller passes what was paid and the date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

InstalmentStatus = Literal["due", "paid", "overdue"]


class Instalment(Protocol):
    @property
    def due_date(self) -> dt.date: ...

    @property
    def amount_minor(self) -> int: ...


class InstalmentPosition(BaseModel):
    model_config = ConfigDict(frozen=True)

    sequence: int  # 1-based, in due-date order
    due_date: dt.date
    amount_minor: int
    paid_minor: int
    status: InstalmentStatus


def plan_position(
    instalments: Sequence[Instalment], paid_toward_plan_minor: int, today: dt.date
) -> list[InstalmentPosition]:
    """Each instalment with what the payments so far paid of it and its status on `today`
    (overdue the day after its due date)."""
    left = max(0, paid_toward_plan_minor)
    out = []
    ordered = sorted(instalments, key=lambda i: i.due_date)
    for sequence, instalment in enumerate(ordered, start=1):
        paid = min(left, instalment.amount_minor)
        left -= paid
        status: InstalmentStatus
        if paid >= instalment.amount_minor:
            status = "paid"
        elif today > instalment.due_date:
            status = "overdue"
        else:
            status = "due"
        out.append(
            InstalmentPosition(
                sequence=sequence,
                due_date=instalment.due_date,
                amount_minor=instalment.amount_minor,
                paid_minor=paid,
                status=status,
            )
        )
    return out


def next_unpaid(positions: Sequence[InstalmentPosition]) -> InstalmentPosition | None:
    """The first instalment not yet paid in full: its due date is the plan's due date."""
    return next((p for p in positions if p.status != "paid"), None)
