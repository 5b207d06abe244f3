"""Which payments a refund comes from: newest first, each up to what it has left."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.refunds import NotRefundable, PlannedRefund, RefundablePayment, plan_refunds

OLD = RefundablePayment("pay_a", datetime(2026, 3, 1, tzinfo=UTC), 6_000)
NEW = RefundablePayment("pay_b", datetime(2026, 3, 5, tzinfo=UTC), 4_000)


def test_a_refund_comes_from_the_newest_payment_first() -> None:
    assert plan_refunds([OLD, NEW], 1_000) == [PlannedRefund("pay_b", 1_000)]


def test_a_refund_larger_than_the_newest_payment_is_split_across_payments() -> None:
    assert plan_refunds([OLD, NEW], 7_000) == [
        PlannedRefund("pay_b", 4_000),
        PlannedRefund("pay_a", 3_000),
    ]


def test_earlier_refunds_are_not_refunded_again() -> None:
    refunded = RefundablePayment("pay_b", NEW.paid_at, 4_000, refunded_minor=3_500)

    assert plan_refunds([OLD, refunded], 1_000) == [
        PlannedRefund("pay_b", 500),
        PlannedRefund("pay_a", 500),
    ]


def test_a_fully_refunded_payment_is_skipped() -> None:
    spent = RefundablePayment("pay_b", NEW.paid_at, 4_000, refunded_minor=4_000)

    assert plan_refunds([spent, OLD], 6_000) == [PlannedRefund("pay_a", 6_000)]


def test_more_than_the_payments_have_left_is_not_refundable() -> None:
    with pytest.raises(NotRefundable) as refused:
        plan_refunds([OLD, NEW], 10_001)

    assert refused.value.code == "not_refundable"
    assert str(refused.value) == (
        "cannot refund 10001: the invoice's payments have 10000 left to refund"
    )


def test_payments_at_the_same_time_are_ordered_by_id_so_the_plan_never_changes() -> None:
    same_time = RefundablePayment("pay_c", NEW.paid_at, 4_000)

    forwards = plan_refunds([NEW, same_time], 5_000)
    backwards = plan_refunds([same_time, NEW], 5_000)

    assert forwards == backwards == [PlannedRefund("pay_c", 4_000), PlannedRefund("pay_b", 1_000)]


def test_a_refund_is_for_a_positive_amount() -> None:
    with pytest.raises(ValueError):
        plan_refunds([OLD], 0)
