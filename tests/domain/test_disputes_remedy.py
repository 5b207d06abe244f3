"""Tests for domain.disputes.remedy and .collection: which remedies may be proposed, when
a credit note needs approval, and what an open dispute leaves to collect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from domain.disputes import (
    CaseFigures,
    CreditReason,
    DisputeRefused,
    InvoiceFigures,
    OpenDispute,
    RemedyKind,
    check_remedy,
    collectable,
    is_overdue,
    needs_approval,
    overdue_amount,
)

TODAY = date(2026, 3, 10)
# total 1,000.00; 200.00 paid, 100.00 credited: 700.00 open, 900.00 creditable
CASE = CaseFigures(
    currency="GBP",
    total_minor=100_000,
    paid_minor=20_000,
    credited_minor=10_000,
    disputed_minor=30_000,
)
LIMIT = 5_000


@dataclass(frozen=True)
class Instalment:  # the shape of schemas.disputes.InstalmentPlan
    due_date: date
    amount_minor: int


def check(kind: RemedyKind, case: CaseFigures = CASE, **fields: Any) -> None:
    check_remedy(case, kind=kind, today=TODAY, write_off_limit_minor=LIMIT, **fields)


def refused(kind: RemedyKind, case: CaseFigures = CASE, **fields: Any) -> DisputeRefused:
    with pytest.raises(DisputeRefused) as caught:
        check(kind, case, **fields)
    return caught.value


CREDIT = RemedyKind.CREDIT_NOTE
REASON = CreditReason.PRODUCT_UNSATISFACTORY


def test_a_credit_note_up_to_what_is_creditable_is_accepted() -> None:
    check(CREDIT, amount_minor=90_000, credit_reason=REASON)  # paid money is refunded
    check(CREDIT, amount_minor=1, credit_reason=REASON)


def test_a_credit_note_above_what_is_creditable_is_refused() -> None:
    refusal = refused(CREDIT, amount_minor=90_001, credit_reason=REASON)
    assert refusal.code == "above_creditable"
    assert "GBP 900.01" in refusal.detail and "GBP 900.00" in refusal.detail
    written_off = CASE.model_copy(update={"written_off_minor": 5_000})
    assert refused(CREDIT, written_off, amount_minor=85_001, credit_reason=REASON).code == (
        "above_creditable"
    )


def test_a_credit_note_needs_an_amount_and_a_reason() -> None:
    assert refused(CREDIT, credit_reason=REASON).code == "amount_required"
    assert refused(CREDIT, amount_minor=0, credit_reason=REASON).code == "invalid_amount"
    assert refused(CREDIT, amount_minor=100).code == "credit_reason_required"


def test_a_write_off_within_the_limit_and_the_disputed_amount_is_accepted() -> None:
    check(RemedyKind.WRITE_OFF, amount_minor=LIMIT)


def test_a_write_off_above_the_limit_is_refused() -> None:
    refusal = refused(RemedyKind.WRITE_OFF, amount_minor=LIMIT + 1)
    assert refusal.code == "above_write_off_limit"
    assert "GBP 50.00" in refusal.detail and "credit note" in refusal.detail


def test_a_write_off_above_the_disputed_or_open_amount_is_refused() -> None:
    small = CASE.model_copy(update={"disputed_minor": 1_000})
    refusal = refused(RemedyKind.WRITE_OFF, small, amount_minor=1_001)
    assert (refusal.code, "GBP 10.00 still disputed" in refusal.detail) == ("above_disputed", True)
    nearly_paid = small.model_copy(update={"paid_minor": 89_500})  # 5.00 open
    refusal = refused(RemedyKind.WRITE_OFF, nearly_paid, amount_minor=600)
    assert (refusal.code, "GBP 5.00 still open" in refusal.detail) == ("above_disputed", True)
    assert refused(RemedyKind.WRITE_OFF).code == "amount_required"


PLAN = RemedyKind.PAYMENT_PLAN


def plan(*parts: tuple[int, int]) -> list[Instalment]:
    return [Instalment(TODAY + timedelta(days=days), amount) for days, amount in parts]


def test_a_payment_plan_covering_the_open_balance_is_accepted() -> None:
    check(PLAN, instalments=plan((1, 35_000), (31, 35_000)))
    check(PLAN, instalments=plan((7, 20_000), (14, 20_000), (21, 30_000)))


def test_a_payment_plan_needs_two_instalments() -> None:
    assert refused(PLAN, instalments=plan((7, 70_000))).code == "plan_too_few_instalments"
    assert refused(PLAN).code == "plan_too_few_instalments"


def test_a_payment_plan_must_add_up_to_the_open_balance() -> None:
    refusal = refused(PLAN, instalments=plan((7, 35_000), (14, 34_999)))
    assert refusal.code == "plan_sum_mismatch"
    assert "GBP 699.99" in refusal.detail and "GBP 700.00" in refusal.detail
    assert refused(PLAN, instalments=plan((7, 35_001), (14, 35_000))).code == "plan_sum_mismatch"


@pytest.mark.parametrize(
    "days",
    [
        (0, 30),  # today is not after today
        (-1, 30),
        (30, 30),  # the same day twice
        (30, 7),  # out of order
    ],
)
def test_a_payment_plans_dates_must_be_after_today_and_ascending(days: tuple[int, int]) -> None:
    instalments = plan((days[0], 35_000), (days[1], 35_000))
    assert refused(PLAN, instalments=instalments).code == "plan_dates_invalid"


def test_a_payment_plans_instalments_must_be_positive() -> None:
    assert refused(PLAN, instalments=plan((7, 70_000), (14, 0))).code == "invalid_amount"


def test_an_adjusted_invoice_needs_a_line() -> None:
    assert refused(RemedyKind.ADJUSTED_INVOICE).code == "adjusted_invoice_empty"
    check(RemedyKind.ADJUSTED_INVOICE, lines=[{"description": "fixed", "unit_price_minor": 1}])


def test_a_rejection_needs_a_written_reason() -> None:
    assert refused(RemedyKind.REJECTION).code == "note_required"
    assert refused(RemedyKind.REJECTION, note="  \n").code == "note_required"
    check(RemedyKind.REJECTION, note="Delivered and signed for on 2 March.")


def test_only_credit_notes_strictly_above_the_threshold_need_approval() -> None:
    assert needs_approval(CREDIT, 100_001, 100_000)
    assert not needs_approval(CREDIT, 100_000, 100_000)
    assert not needs_approval(RemedyKind.WRITE_OFF, 10**9, 100_000)
    assert not needs_approval(RemedyKind.ADJUSTED_INVOICE, 10**9, 0)


# --- effect on collection --------------------------------------------------------------


def test_only_the_undisputed_part_can_be_overdue() -> None:
    assert overdue_amount(70_000, 30_000) == 40_000
    assert overdue_amount(70_000, 0) == 70_000
    assert overdue_amount(20_000, 30_000) == 0  # paid down below the disputed amount
    with pytest.raises(ValueError):
        overdue_amount(-1, 0)


def test_collection_asks_for_the_balance_less_open_disputes() -> None:
    invoice = InvoiceFigures(currency="GBP", total_minor=100_000, paid_minor=30_000)
    disputes = [
        OpenDispute(dispute_id="d1", lines=(1,), amount_minor=10_000),
        OpenDispute(dispute_id="d2", lines=(2,), amount_minor=5_000),
    ]
    assert collectable(invoice, disputes) == 55_000
    assert collectable(invoice, []) == 70_000


def test_an_invoice_disputed_in_full_is_not_overdue() -> None:
    due = date(2026, 3, 1)
    assert is_overdue(70_000, 30_000, due, TODAY)
    assert not is_overdue(70_000, 70_000, due, TODAY)
    assert not is_overdue(70_000, 0, due, due)  # due today is not yet overdue
