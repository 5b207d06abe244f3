"""Billing periods: parsing, the previous month, and contract validity within a period."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.billing import parse_period, period_starts_after, previous_period, terms_for_period
from domain.errors import ContractExpired, ContractNotYetValid, InvalidPeriod
from domain.invoicing import ContractTerms, Rate


def terms(valid_from: date | None = None, valid_to: date | None = None) -> ContractTerms:
    return ContractTerms(
        contract_id="con_1",
        currency="GBP",
        tax_region="GB",
        payment_terms_days=30,
        rates=[Rate(code="senior", description="Senior", unit_price_minor=100)],
        valid_from=valid_from,
        valid_to=valid_to,
    )


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        ("2026-11", date(2026, 11, 1), date(2026, 11, 30)),
        ("2026-12", date(2026, 12, 1), date(2026, 12, 31)),
        ("2028-02", date(2028, 2, 1), date(2028, 2, 29)),
    ],
)
def test_a_period_is_a_calendar_month(period: str, first: date, last: date) -> None:
    assert parse_period(period) == (first, last)


@pytest.mark.parametrize(
    "bad",
    [
        "2026-13",
        "2026-00",
        "2026-1",
        "26-11",
        "2026/11",
        "",
        "1999-12",
        "2026-11\n",  # `$` would let a newline through: another spelling of the month
        "２０２６-11",  # full-width digits match `\\d`
        "9999-12",  # its last day is fine, the month after is not a date
        "2100-01",
    ],
)
def test_a_malformed_period_is_refused_with_its_code(bad: str) -> None:
    with pytest.raises(InvalidPeriod) as err:
        parse_period(bad)
    assert err.value.code == "invalid_period" and repr(bad) in err.value.detail


@pytest.mark.parametrize(
    ("now", "period"),
    [
        (datetime(2026, 12, 1, 2, 0, tzinfo=UTC), "2026-11"),
        (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), "2026-12"),
        (datetime(2026, 3, 31, 23, 59, tzinfo=UTC), "2026-02"),
    ],
)
def test_the_previous_period_is_the_month_before_now(now: datetime, period: str) -> None:
    assert previous_period(now) == period


def test_only_a_month_that_has_not_begun_starts_after_today() -> None:
    today = date(2026, 11, 24)
    assert period_starts_after("2026-12", today)
    assert not period_starts_after("2026-11", today)


def test_a_contract_that_ended_within_the_period_still_bills_it_after_its_end() -> None:
    adjusted = terms_for_period(terms(valid_to=date(2026, 11, 15)), "2026-11")
    assert adjusted.valid_to is None and adjusted.valid_from is None


@pytest.mark.parametrize(
    ("validity", "error"),
    [
        ({"valid_to": date(2026, 10, 31)}, ContractExpired),
        ({"valid_from": date(2026, 12, 1)}, ContractNotYetValid),
    ],
)
def test_a_contract_not_valid_at_any_time_in_the_period_cannot_bill_it(
    validity: dict[str, date], error: type[Exception]
) -> None:
    with pytest.raises(error):
        terms_for_period(terms(**validity), "2026-11")
