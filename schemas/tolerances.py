"""Matching tolerances as a request sends them (customers, POs, PO lines)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import ConfigDict, Field

from domain.matching.model import Tolerances
from domain.money import MAX_MINOR

_MAX_PCT = Decimal(1000)


class TolerancesIn(Tolerances):
    """Matching tolerances as a request sends them: `domain.matching.model.Tolerances`,
    refusing unknown fields (a misspelt limit would otherwise be silently not set) and
    percents over 1000 or with more than four decimal places."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    price_over_pct: Decimal | None = Field(default=None, ge=0, le=_MAX_PCT, decimal_places=4)
    price_over_minor: int | None = Field(default=None, ge=0, le=MAX_MINOR)
    price_under_pct: Decimal | None = Field(default=None, ge=0, le=_MAX_PCT, decimal_places=4)
    price_under_minor: int | None = Field(default=None, ge=0, le=MAX_MINOR)
    quantity_over_pct: Decimal | None = Field(default=None, ge=0, le=_MAX_PCT, decimal_places=4)
    total_over_pct: Decimal | None = Field(default=None, ge=0, le=_MAX_PCT, decimal_places=4)
    total_over_minor: int | None = Field(default=None, ge=0, le=MAX_MINOR)
