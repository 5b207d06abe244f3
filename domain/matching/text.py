"""How matching writes numbers into reasons, variances and duplicate keys.

One place, so that a quantity reads the same in a reason's detail, in its `expected` and
`actual`, and in the line keys the duplicate check compares (the store builds a
`RecentInvoice`'s keys with the same `quantity_text`, or "1.50" and "1.5" would differ).
"""

from __future__ import annotations

from decimal import Decimal

from domain.errors import UnsupportedCurrency
from domain.money import DECIMAL_CONTEXT, ROUNDING, format_amount

_HUNDREDTH = Decimal("0.01")


def quantity_text(quantity: Decimal) -> str:
    """A quantity without trailing zeros or exponent: 10, 1.5, 0.125 (never 1E+1)."""
    normal = quantity.normalize(DECIMAL_CONTEXT)
    if normal.is_zero():
        return "0"  # not "-0", and not "0E-3"
    return format(normal, "f")


def amount_text(amount_minor: int, currency: str) -> str:
    """An amount with its currency ("GBP 1,234.00"); never raises on an unknown code.

    The matcher compares a PO that may be in another currency than the invoice: reporting
    that must not fail because the PO's code is one we do not invoice in.
    """
    try:
        return format_amount(amount_minor, currency)
    except UnsupportedCurrency:
        return f"{currency} {amount_minor} (minor units)"


def bare_amount_text(amount_minor: int, currency: str) -> str:
    """The amount without its code ("1,234.00"), for the figures after the first in a
    sentence that already named the currency."""
    text = amount_text(amount_minor, currency)
    return text.split(" ", 1)[1] if text.startswith(f"{currency} ") else text


def percent_of(part: Decimal | int, whole: Decimal | int) -> Decimal:
    """`part` as a percentage of `whole`, to 0.01 (half away from zero); 0 for a zero whole,
    where no percentage exists (the absolute figures say what happened)."""
    if whole == 0:
        return Decimal(0)
    if isinstance(part, int) and isinstance(whole, int):
        # Prices: the same half-away-from-zero rounding in integers, a few times faster
        # than a 60-digit division, and the matcher does this once per price variance.
        hundredths, rest = divmod(abs(part) * 10_000, abs(whole))
        hundredths += 2 * rest >= abs(whole)
        negative = (part < 0) != (whole < 0)
        return Decimal(-hundredths if negative else hundredths).scaleb(-2, DECIMAL_CONTEXT)
    ratio = DECIMAL_CONTEXT.divide(
        DECIMAL_CONTEXT.multiply(Decimal(part), Decimal(100)), Decimal(whole)
    )
    return ratio.quantize(_HUNDREDTH, rounding=ROUNDING, context=DECIMAL_CONTEXT)


def percent_text(pct: Decimal) -> str:
    return f"{quantity_text(pct)}%"
