"""Late-payment charges: statutory interest as the UK Act and the EU directive set it, from
dated reference rates; the fixed compensation once per debt; fees per step."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.reminders.charges import (
    ChargeNotApplicable,
    accrued_interest,
    compensation,
    eu_annual_rate,
    quote,
    uk_annual_rate,
)
from domain.reminders.reference_rates import (
    BANK_OF_ENGLAND,
    ECB_MAIN_REFINANCING,
    NoReferenceRate,
    extended,
    rate_on,
)
from schemas.reminders import ChargeDay, LateCharge, ReminderStep, ReminderTerms

UK = LateCharge(kind="statutory_uk")
EU = LateCharge(kind="statutory_eu")


def _quote(charge: LateCharge, **over: object) -> object:
    args: dict[str, object] = {
        "currency": "GBP",
        "principal_minor": 500_000,
        "balance_minor": 500_000,
        "due_date": date(2026, 1, 31),
        "on": date(2026, 3, 2),
        "reductions": [],
        "interest_charged_minor": 0,
        "compensation_charged": False,
        "rates": BANK_OF_ENGLAND,
    }
    args.update(over)
    return quote(charge, **args)  # type: ignore[arg-type]


def test_uk_rate_is_fixed_by_the_half_year_the_debt_falls_late_in() -> None:
    # late from 1 Feb 2026: the Bank Rate in force on 31 Dec 2025 (3.75%) + 8
    assert uk_annual_rate(date(2026, 1, 31), BANK_OF_ENGLAND) == Decimal("11.75")
    # late from 1 Jul 2025: the rate on 30 Jun 2025 (4.25%) + 8, even after later cuts
    assert uk_annual_rate(date(2025, 6, 30), BANK_OF_ENGLAND) == Decimal("12.25")
    # late from 30 Jun 2025 (still the first half): 31 Dec 2024's 4.75% + 8
    assert uk_annual_rate(date(2025, 6, 29), BANK_OF_ENGLAND) == Decimal("12.75")


def test_uk_interest_on_five_thousand_pounds_thirty_days_late() -> None:
    charged = _quote(UK)
    # 5,000.00 x 11.75% x 30 / 365 = 48.287... -> 48.29; £70 (between £1,000 and £10,000)
    assert charged.interest_minor == 4829  # type: ignore[attr-defined]
    assert charged.compensation_minor == 7000  # type: ignore[attr-defined]
    assert charged.days == 30  # type: ignore[attr-defined]
    assert charged.annual_rate == Decimal("11.75")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("debt_minor", "fixed_sum"),
    [(99_999, 4_000), (100_000, 7_000), (999_999, 7_000), (1_000_000, 10_000)],
)
def test_uk_compensation_bands(debt_minor: int, fixed_sum: int) -> None:
    assert compensation("statutory_uk", debt_minor) == fixed_sum


def test_a_payment_stops_interest_on_what_it_paid_from_its_day() -> None:
    # half paid on day 10 late: 10 days on 5,000, 20 on 2,500
    interest, _, days = accrued_interest(
        kind="statutory_uk",
        principal_minor=500_000,
        due_date=date(2026, 1, 31),
        until=date(2026, 3, 2),
        reductions=[ChargeDay(on=date(2026, 2, 11), amount_minor=250_000)],
        rates=BANK_OF_ENGLAND,
    )
    expected = (Decimal(500_000) * 10 + Decimal(250_000) * 20) * Decimal("0.1175") / 365
    assert interest == int(expected.quantize(Decimal(1)))
    assert days == 30


def test_later_steps_charge_only_the_interest_accrued_since_and_no_second_compensation() -> None:
    first = _quote(UK, on=date(2026, 2, 14))
    second = _quote(
        UK,
        on=date(2026, 3, 2),
        interest_charged_minor=first.interest_minor,  # type: ignore[attr-defined]
        compensation_charged=True,
    )
    whole = _quote(UK)
    assert second.compensation_minor == 0  # type: ignore[attr-defined]
    assert (
        first.interest_minor + second.interest_minor  # type: ignore[attr-defined]
        == whole.interest_minor  # type: ignore[attr-defined]
    )


def test_eu_rate_follows_each_half_year() -> None:
    assert eu_annual_rate(date(2025, 3, 1), ECB_MAIN_REFINANCING) == Decimal("11.15")  # 3.15
    assert eu_annual_rate(date(2025, 8, 1), ECB_MAIN_REFINANCING) == Decimal("10.15")  # 2.15
    # a debt late across 1 July: each day at its own half-year's rate
    interest, rate, days = accrued_interest(
        kind="statutory_eu",
        principal_minor=365_000,
        due_date=date(2025, 6, 20),
        until=date(2025, 7, 10),
        reductions=[],
        rates=ECB_MAIN_REFINANCING,
    )
    # 10 days at 11.15% and 10 at 10.15% of 3,650.00: 1,000 minor units a day per 100%
    assert interest == round(10 * 1000 * Decimal("0.1115") + 10 * 1000 * Decimal("0.1015"))
    assert (rate, days) == (Decimal("10.15"), 20)


def test_eu_compensation_is_forty_euros_once() -> None:
    charged = _quote(EU, currency="EUR", rates=ECB_MAIN_REFINANCING)
    assert charged.compensation_minor == 4000  # type: ignore[attr-defined]


def test_statutory_interest_applies_in_its_own_currency_only() -> None:
    with pytest.raises(ChargeNotApplicable, match="UK statutory interest applies to debts in GBP"):
        _quote(UK, currency="EUR")


def test_fixed_and_percentage_fees() -> None:
    assert _quote(LateCharge(kind="fixed", amount_minor=2500)).total_minor == 2500  # type: ignore[attr-defined]
    pct = _quote(LateCharge(kind="percent", percent=Decimal("1.5")), balance_minor=10_001)
    assert pct.fee_minor == 150  # type: ignore[attr-defined]  # 150.015 -> 150
    assert _quote(LateCharge(kind="fixed", amount_minor=2500), balance_minor=0).total_minor == 0  # type: ignore[attr-defined]


def test_reference_rates_are_dated_data_that_settings_extend() -> None:
    assert rate_on(BANK_OF_ENGLAND, date(2024, 8, 1)) == Decimal("5.00")
    assert rate_on(BANK_OF_ENGLAND, date(2024, 7, 31)) == Decimal("5.25")
    later = extended(BANK_OF_ENGLAND, [(date(2026, 2, 5), Decimal("3.50"))])
    assert rate_on(later, date(2026, 6, 30)) == Decimal("3.50")
    with pytest.raises(NoReferenceRate):
        rate_on(BANK_OF_ENGLAND, date(2019, 1, 1))


def test_terms_refuse_what_makes_no_sense() -> None:
    with pytest.raises(ValidationError, match="charges before the invoice is overdue"):
        ReminderTerms(steps=[ReminderStep(key="early", days=-3, charge=True)])
    with pytest.raises(ValidationError, match="its own key"):
        ReminderTerms(steps=[ReminderStep(key="a", days=1), ReminderStep(key="a", days=2)])
    with pytest.raises(ValidationError, match="only one reminder step"):
        ReminderTerms(
            steps=[
                ReminderStep(key="a", days=1, collections=True),
                ReminderStep(key="b", days=2, collections=True),
            ]
        )
    with pytest.raises(ValidationError, match="needs amount_minor"):
        LateCharge(kind="fixed")
    with pytest.raises(ValidationError, match="set by law"):
        LateCharge(kind="statutory_uk", amount_minor=100)
