"""Tolerances turned into limits: how much variance one comparison allows.

The rules are `Tolerances`' (see its docstring): on each side the stricter of the limits
set wins, and a side with no limit set allows nothing. Percent limits on money become
minor units with the project's rounding rule (`round_minor`) before comparing; quantity
limits stay exact Decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from domain.matching.model import Tolerances
from domain.money import DECIMAL_CONTEXT, round_minor

_ZERO = Decimal(0)
_NO_OVERRIDE = Tolerances()
_T = TypeVar("_T")


def _first_set(override: _T | None, default: _T | None) -> _T | None:
    return default if override is None else override


@dataclass(frozen=True, slots=True)
class Limits:
    """Effective tolerances for one PO line (defaults with the line's overrides applied).

    A plain slotted value rather than `Tolerances.overridden`'s pydantic copy: the matcher
    builds one per PO line touched, and a 10,000-line PO would spend its time budget in
    `model_copy` otherwise. Same merge rule: an override's set limits replace the default.
    """

    price_over_pct: Decimal | None
    price_over_minor: int | None
    price_under_pct: Decimal | None
    price_under_minor: int | None
    quantity_over_pct: Decimal | None
    total_over_pct: Decimal | None
    total_over_minor: int | None

    @classmethod
    def of(cls, defaults: Tolerances, override: Tolerances | None = None) -> Limits:
        if override is None:
            override = _NO_OVERRIDE
        return cls(
            _first_set(override.price_over_pct, defaults.price_over_pct),
            _first_set(override.price_over_minor, defaults.price_over_minor),
            _first_set(override.price_under_pct, defaults.price_under_pct),
            _first_set(override.price_under_minor, defaults.price_under_minor),
            _first_set(override.quantity_over_pct, defaults.quantity_over_pct),
            _first_set(override.total_over_pct, defaults.total_over_pct),
            _first_set(override.total_over_minor, defaults.total_over_minor),
        )

    def price_over_limit(self, po_price_minor: int) -> int | None:
        """Minor units per unit the price may be above the PO's; None: no limit set (0)."""
        return money_limit(po_price_minor, self.price_over_pct, self.price_over_minor)

    def price_under_limit(self, po_price_minor: int) -> int | None:
        """Minor units per unit the price may be below the PO's; None: no limit set (0)."""
        return money_limit(po_price_minor, self.price_under_pct, self.price_under_minor)

    def total_over_limit(self, po_amount_minor: int) -> int | None:
        """Minor units the net may be over what is left of the PO; a percent is of the PO's
        whole amount, not of what is left, so the allowance does not shrink as the PO is
        used up. None: no limit set (0)."""
        return money_limit(po_amount_minor, self.total_over_pct, self.total_over_minor)

    def quantity_over_allowance(self, base: Decimal) -> Decimal:
        """The quantity that may be billed beyond what is left: a percent of `base` (the
        line's ordered, or received, quantity); exact, never rounded."""
        if self.quantity_over_pct is None:
            return _ZERO
        return DECIMAL_CONTEXT.multiply(base, self.quantity_over_pct.scaleb(-2, DECIMAL_CONTEXT))


def money_limit(base_minor: int, pct: Decimal | None, absolute_minor: int | None) -> int | None:
    """The stricter of a percent-of-`base_minor` limit and an absolute one, in minor units;
    None when neither is set (the caller allows no variance then)."""
    if pct is None:
        return absolute_minor
    numerator, denominator = pct.as_integer_ratio()
    if denominator == 1 and base_minor >= 0:
        # A whole percent (the usual kind): the same half-away-from-zero rounding in
        # integers, floor(x / 100 + 1/2), at a fifth of the Decimal route's cost.
        of_base = (base_minor * numerator * 2 + 100) // 200
    else:
        of_base = round_minor(
            DECIMAL_CONTEXT.multiply(Decimal(base_minor), pct.scaleb(-2, DECIMAL_CONTEXT))
        )
    return of_base if absolute_minor is None else min(of_base, absolute_minor)
