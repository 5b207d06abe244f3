"""Billing periods: calendar months written ``YYYY-MM``.

Pure and deterministic: the billing-run workflow passes ``workflow.now()`` in to find the
previous month, and the API and the CLI use the same parsing so a period means the same
thing everywhere. A period invoice bills work done *in* the period, so a contract counts
as valid for it when its validity dates overlap the month, even if the invoice is issued
after the contract ended (billing November on 1 December is the normal case).
"""

from __future__ import annotations

import datetime as dt
import re

from domain.errors import ContractExpired, ContractNotYetValid, InvalidPeriod
from domain.invoicing import ContractTerms

__all__ = [
    "InvalidPeriod",
    "parse_period",
    "period_of",
    "period_starts_after",
    "previous_period",
    "terms_for_period",
]

# ASCII digits only and nothing after the month (not even the newline `$` would allow)
_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def parse_period(period: str) -> tuple[dt.date, dt.date]:
    """First and last day of a ``YYYY-MM`` period; raises `InvalidPeriod`."""
    match = _PERIOD.fullmatch(period) if isinstance(period, str) else None
    if match is None or not 2000 <= int(match.group(1)) <= 2099:
        raise InvalidPeriod(
            f"period {period!r} is not a calendar month written YYYY-MM (2000-2099), e.g. 2026-11"
        )
    year, month = int(match.group(1)), int(match.group(2))
    first = dt.date(year, month, 1)
    next_first = dt.date(year + month // 12, month % 12 + 1, 1)
    return first, next_first - dt.timedelta(days=1)


def period_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def previous_period(now: dt.datetime | dt.date) -> str:
    """The calendar month before the one ``now`` falls in (what a month-start run bills)."""
    day = now.date() if isinstance(now, dt.datetime) else now
    return period_of(day.replace(day=1) - dt.timedelta(days=1))


def period_starts_after(period: str, today: dt.date) -> bool:
    """True for a month that has not begun yet: there is nothing to bill in it."""
    first, _ = parse_period(period)
    return first > today


def terms_for_period(terms: ContractTerms, period: str) -> ContractTerms:
    """The contract's terms for an invoice that bills the work of ``period``.

    The contract must have been valid at some time during the period (else
    `ContractNotYetValid` / `ContractExpired`); the invoice's issue date is then not held
    against the validity dates, since it normally falls after the period.
    """
    first, last = parse_period(period)
    if terms.valid_from is not None and terms.valid_from > last:
        raise ContractNotYetValid(
            f"contract {terms.contract_id!r} is valid from {terms.valid_from}; "
            f"period {period} ends before that"
        )
    if terms.valid_to is not None and terms.valid_to < first:
        raise ContractExpired(
            f"contract {terms.contract_id!r} expired after {terms.valid_to}; "
            f"period {period} starts later"
        )
    return terms.model_copy(update={"valid_from": None, "valid_to": None})
