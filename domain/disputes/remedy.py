"""Remedy checks: whether a remedy the owner proposes may be put to the customer.

The `propose_remedy` update's validator calls `check_remedy`, so a proposal the rules
refuse gets its answer at once and writes nothing to history. The rules:

- credit note: a positive amount, at most what is still creditable (the total less
  earlier credit notes and write-offs; payments do not reduce it, a credit on paid money
  is refunded), with a credit reason;
- write-off: a positive amount, at most the configured small-balance limit, the amount
  still disputed and the open balance (what was paid is not written off);
- payment plan: at least two instalments, due on strictly later days, all after today,
  adding up to the open balance exactly (the plan replaces the invoice's one due date);
- adjusted invoice: at least one corrected line (its lines are checked by invoicing when
  it is generated);
- rejection: a written reason for the customer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from domain.disputes.model import CaseFigures, CreditReason, DisputeRefused, RemedyKind
from domain.money import format_amount


class Instalment(Protocol):
    """One instalment of a proposed payment plan (`schemas.disputes.InstalmentPlan` is
    one, so a proposal's instalments pass as they are)."""

    @property
    def due_date(self) -> dt.date: ...

    @property
    def amount_minor(self) -> int: ...


def check_remedy(
    case: CaseFigures,
    *,
    kind: RemedyKind,
    today: dt.date,
    write_off_limit_minor: int,
    amount_minor: int | None = None,
    credit_reason: CreditReason | None = None,
    instalments: Sequence[Instalment] = (),
    lines: Sequence[object] = (),
    note: str = "",
) -> None:
    """Raise `DisputeRefused` for a proposal the rules refuse; return None otherwise.

    `today` is the business's calendar day (the workflow's now, in its time zone);
    `lines` are an adjusted invoice's corrected lines, counted only.
    """
    cur = case.currency
    if kind == RemedyKind.CREDIT_NOTE:
        amount = _amount(amount_minor, "a credit note")
        if amount > case.creditable_minor:
            raise DisputeRefused(
                "above_creditable",
                f"a credit note of {format_amount(amount, cur)} is more than the "
                f"{format_amount(case.creditable_minor, cur)} still creditable on the invoice",
            )
        if credit_reason is None:
            raise DisputeRefused("credit_reason_required", "a credit note needs a reason")
    elif kind == RemedyKind.WRITE_OFF:
        amount = _amount(amount_minor, "a write-off")
        if amount > write_off_limit_minor:
            raise DisputeRefused(
                "above_write_off_limit",
                f"a write-off of {format_amount(amount, cur)} is more than the "
                f"{format_amount(write_off_limit_minor, cur)} limit for small balances; "
                "propose a credit note instead",
            )
        if amount > min(case.disputed_minor, case.open_balance_minor):
            limit = min(case.disputed_minor, case.open_balance_minor)
            what = "still disputed" if limit == case.disputed_minor else "still open"
            raise DisputeRefused(
                "above_disputed",
                f"a write-off of {format_amount(amount, cur)} is more than the "
                f"{format_amount(limit, cur)} {what}",
            )
    elif kind == RemedyKind.PAYMENT_PLAN:
        _check_plan(case, instalments, today)
    elif kind == RemedyKind.ADJUSTED_INVOICE:
        if not lines:
            raise DisputeRefused(
                "adjusted_invoice_empty", "an adjusted invoice needs at least one line"
            )
    elif kind == RemedyKind.REJECTION:
        if not note.strip():
            raise DisputeRefused(
                "note_required", "a rejection needs a written reason for the customer"
            )


def needs_approval(kind: RemedyKind, amount_minor: int, threshold_minor: int) -> bool:
    """Whether a proposal goes through the approval machinery first: credit notes strictly
    above the threshold. Write-offs need none: they are capped by their own small limit."""
    return kind == RemedyKind.CREDIT_NOTE and amount_minor > threshold_minor


def _amount(amount_minor: int | None, what: str) -> int:
    if amount_minor is None:
        raise DisputeRefused("amount_required", f"{what} needs an amount")
    if amount_minor <= 0:
        raise DisputeRefused(
            "invalid_amount", f"{what} needs a positive amount, got {amount_minor}"
        )
    return amount_minor


def _check_plan(case: CaseFigures, instalments: Sequence[Instalment], today: dt.date) -> None:
    if len(instalments) < 2:
        raise DisputeRefused(
            "plan_too_few_instalments",
            f"a payment plan needs at least two instalments, got {len(instalments)}",
        )
    dates = [instalment.due_date for instalment in instalments]
    if dates[0] <= today:
        raise DisputeRefused(
            "plan_dates_invalid",
            f"the first instalment is due {dates[0]}; instalments must fall after today ({today})",
        )
    for earlier, later in zip(dates, dates[1:], strict=False):
        if later <= earlier:
            raise DisputeRefused(
                "plan_dates_invalid",
                f"an instalment due {later} follows one due {earlier}; each must fall on a "
                "later day than the one before",
            )
    cur = case.currency
    for number, instalment in enumerate(instalments, start=1):
        if instalment.amount_minor <= 0:
            raise DisputeRefused(
                "invalid_amount",
                f"instalment {number} is {format_amount(instalment.amount_minor, cur)}; "
                "each instalment must be positive",
            )
    total = sum(instalment.amount_minor for instalment in instalments)
    if total != case.open_balance_minor:
        raise DisputeRefused(
            "plan_sum_mismatch",
            f"the instalments add up to {format_amount(total, cur)}; a plan covers the "
            f"open balance of {format_amount(case.open_balance_minor, cur)} exactly",
        )
