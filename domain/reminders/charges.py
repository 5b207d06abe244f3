"""What a charging reminder step adds to what the customer owes.

- ``fixed``: the contract's amount, at each charging step.
- ``percent``: a percentage of the overdue balance at that step.
- ``statutory_uk``: the Late Payment of Commercial Debts (Interest) Act 1998: simple
  interest at 8 points over the Bank of England's reference rate, fixed for the debt by
  the day interest starts to run (the rate in force on 31 December for a debt that falls
  late from January to June, on 30 June from July to December), plus a fixed sum once per
  debt: £40 under £1,000, £70 under £10,000, £100 from £10,000.
- ``statutory_eu``: the Late Payment Directive (2011/7/EU) minimum: the ECB's main
  refinancing rate in force on the first day of each half-year plus 8 points, plus €40
  once.

Interest is simple, per day, on what is outstanding that day, over a 365-day year: a
payment reduces it from its own day on. Each charging step adds the interest accrued since
the last charge (the total so far less what earlier steps charged), so the charges add up
to the statutory amount whatever the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from domain.money import round_minor
from domain.reminders.reference_rates import Table, rate_on
from schemas.reminders import ChargeDay, LateCharge

STATUTORY_MARGIN = Decimal(8)
DAYS_PER_YEAR = Decimal(365)
# the fixed compensation, in minor units of the regime's currency
UK_COMPENSATION = ((100_000, 4_000), (1_000_000, 7_000))  # (below this debt, this sum)
UK_COMPENSATION_TOP = 10_000  # £100, from a debt of £10,000
EU_COMPENSATION = 4_000
REGIME_CURRENCY = {"statutory_uk": "GBP", "statutory_eu": "EUR"}


class ChargeNotApplicable(ValueError):
    """The contract's charge cannot apply to this invoice (statutory interest in the
    wrong currency); refused when the contract is written, so seen only in old data."""


@dataclass(frozen=True)
class Quote:
    """One step's charge: its parts in minor units, and the annual rate the interest used."""

    fee_minor: int = 0
    interest_minor: int = 0
    compensation_minor: int = 0
    annual_rate: Decimal | None = None
    days: int = 0  # days of interest counted so far

    @property
    def total_minor(self) -> int:
        return self.fee_minor + self.interest_minor + self.compensation_minor


def check_currency(charge: LateCharge, currency: str) -> None:
    wanted = REGIME_CURRENCY.get(charge.kind)
    if wanted is not None and currency != wanted:
        regime = "UK" if charge.kind == "statutory_uk" else "EU"
        raise ChargeNotApplicable(
            f"{regime} statutory interest applies to debts in {wanted}, not {currency}"
        )


def uk_annual_rate(due_date: date, rates: Table) -> Decimal:
    """8 points over the reference rate fixed for a debt first late the day after `due_date`."""
    late_from = due_date + timedelta(days=1)
    fixed_on = (
        date(late_from.year - 1, 12, 31) if late_from.month <= 6 else date(late_from.year, 6, 30)
    )
    return rate_on(rates, fixed_on) + STATUTORY_MARGIN


def eu_annual_rate(day: date, rates: Table) -> Decimal:
    """8 points over the rate in force on the first day of `day`'s half-year."""
    first = date(day.year, 1 if day.month <= 6 else 7, 1)
    return rate_on(rates, first) + STATUTORY_MARGIN


def accrued_interest(
    *,
    kind: str,
    principal_minor: int,
    due_date: date,
    until: date,
    reductions: list[ChargeDay],
    rates: Table,
) -> tuple[int, Decimal | None, int]:
    """Interest from the day after `due_date` to `until` (both included): (minor units,
    the last annual rate used, days counted)."""
    total = Decimal(0)
    rate: Decimal | None = None
    days = 0
    day = due_date + timedelta(days=1)
    fixed = uk_annual_rate(due_date, rates) if kind == "statutory_uk" else None
    while day <= until:
        outstanding = principal_minor - sum(r.amount_minor for r in reductions if r.on <= day)
        if outstanding > 0:
            rate = fixed if fixed is not None else eu_annual_rate(day, rates)
            total += Decimal(outstanding) * rate / 100 / DAYS_PER_YEAR
            days += 1
        day += timedelta(days=1)
    return round_minor(total), rate, days


def compensation(kind: str, principal_minor: int) -> int:
    if kind == "statutory_eu":
        return EU_COMPENSATION
    for below, amount in UK_COMPENSATION:
        if principal_minor < below:
            return amount
    return UK_COMPENSATION_TOP


def quote(
    charge: LateCharge,
    *,
    currency: str,
    principal_minor: int,
    balance_minor: int,
    due_date: date,
    on: date,
    reductions: list[ChargeDay],
    interest_charged_minor: int,
    compensation_charged: bool,
    rates: Table,
) -> Quote:
    """The charge a step falling due `on` adds, given what earlier steps already charged."""
    if balance_minor <= 0:
        return Quote()
    if charge.kind == "fixed":
        assert charge.amount_minor is not None
        return Quote(fee_minor=charge.amount_minor)
    if charge.kind == "percent":
        assert charge.percent is not None
        return Quote(fee_minor=round_minor(Decimal(balance_minor) * charge.percent / 100))
    check_currency(charge, currency)
    interest, rate, days = accrued_interest(
        kind=charge.kind,
        principal_minor=principal_minor,
        due_date=due_date,
        until=on,
        reductions=reductions,
        rates=rates,
    )
    return Quote(
        interest_minor=max(0, interest - interest_charged_minor),
        compensation_minor=0
        if compensation_charged
        else compensation(charge.kind, principal_minor),
        annual_rate=rate,
        days=days,
    )
