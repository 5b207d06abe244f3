"""Money: integer minor units plus an ISO 4217 code, and the project's one rounding rule.

Amounts are stored and passed around as `int` minor units (pence, cents, yen) together
with a currency code; `Decimal` appears only inside a calculation.

THE rounding rule of the project:

- Amounts are computed in `Decimal` and rounded half away from zero (`ROUND_HALF_UP`) to
  the currency's minor unit.
- Line net amounts are rounded per line (quantity x unit price, rounded once per line).
- Tax is computed per tax component on the sum of the line nets that share a tax
  category, and rounded once per component (invoice-level rounding, which HMRC, the
  ATO, IRD NZ and the CRA accept).

All arithmetic runs in `DECIMAL_CONTEXT`, never the thread's ambient decimal context, so a
result cannot depend on who called us (this module is imported inside Temporal workflows,
which must be deterministic).
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from domain.errors import InvalidAmount, UnsupportedCurrency

ROUNDING = decimal.ROUND_HALF_UP

# Precision far beyond any invoice amount, so only the explicit quantize ever rounds; any
# inexact or invalid operation beyond that raises instead of silently losing digits.
DECIMAL_CONTEXT = decimal.Context(
    prec=60,
    rounding=ROUNDING,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

# The largest amount we accept anywhere, in minor units (10 trillion GBP): an invoice is far
# below it, and every sum of such amounts stays within a signed 64-bit integer, which is
# what the database columns and Temporal's Int search attributes hold.
MAX_MINOR = 10**15

# ISO 4217 minor-unit exponents for the currencies we invoice in.
CURRENCY_EXPONENTS: dict[str, int] = {
    "GBP": 2,
    "EUR": 2,
    "USD": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "SGD": 2,
    "HKD": 2,
    "ZAR": 2,
    "INR": 2,
    "MXN": 2,
    "BRL": 2,
    "CNY": 2,
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
}

_ONE = Decimal(1)


def exponent(currency: str) -> int:
    """Number of minor-unit digits of `currency` (2 for GBP, 0 for JPY, 3 for KWD)."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        supported = ", ".join(sorted(CURRENCY_EXPONENTS))
        raise UnsupportedCurrency(
            f"currency {currency!r} is not supported (upper-case ISO 4217 codes: {supported})"
        ) from None


def round_minor(value: Decimal) -> int:
    """Round a Decimal already expressed in minor units to an int, half away from zero."""
    if not value.is_finite():
        raise InvalidAmount(f"amount {value} is not a finite number")
    return int(value.quantize(_ONE, rounding=ROUNDING, context=DECIMAL_CONTEXT))


def to_minor(amount: Decimal, currency: str) -> int:
    """Convert a major-unit amount (Decimal("12.345") GBP) to minor units (1235)."""
    if not isinstance(amount, Decimal | int):
        # A float has already lost the cents we would be rounding; refuse it loudly.
        raise TypeError(f"amount must be a Decimal or int, not {type(amount).__name__}")
    value = Decimal(amount)
    if not value.is_finite():
        raise InvalidAmount(f"amount {value} {currency} is not a finite number")
    return round_minor(value.scaleb(exponent(currency), context=DECIMAL_CONTEXT))


_SCALE = {digits: 10**digits for digits in set(CURRENCY_EXPONENTS.values())}


def format_amount(amount_minor: int, currency: str) -> str:
    """Locale-neutral plain form for summaries and logs: "GBP 1,234.00", "JPY 1,000".

    Locale-aware formatting for customers (e-mails, PDFs) is done elsewhere with Babel.
    The PO matcher writes two of these per price variance, thousands on a large invoice,
    hence the one f-string per shape.
    """
    digits = exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    if not digits:
        return f"{currency} {sign}{abs(amount_minor):,}"
    major, minor = divmod(abs(amount_minor), _SCALE[digits])
    return f"{currency} {sign}{major:,}.{minor:0{digits}d}"
