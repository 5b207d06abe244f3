"""Sales-tax rate tables: which tax components apply in a region to a tax category.

The invoice calculator asks `components(region, category)` and applies each component to
the sum of the line nets in that category (see the rounding rule in `domain.money`). Each
component is computed on the net amount: Canadian PST/RST and QST are not charged on
GST (QST stopped being charged on GST in 2013), so no component compounds on another.

Rates are data, not logic: when a rate changes, change the table and its dated comment.
The tables hold the rates in force on 2026-01-01; rates for past dates are not modelled.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel

from domain.errors import UnknownTaxRegion, UnsupportedTaxCategory


class TaxCategory(StrEnum):
    """How a supply is treated for tax: the rate band, or outside tax altogether."""

    STANDARD = "standard"
    REDUCED = "reduced"
    ZERO = "zero"  # taxable at 0%: shown on the invoice with a 0-rate tax line
    EXEMPT = "exempt"  # outside the tax: no tax line at all


class TaxComponent(BaseModel, frozen=True):
    """One tax levied on a line's net amount, e.g. VAT at 20% or QST at 9.975%."""

    name: str
    rate: Decimal


def _c(name: str, rate: str) -> TaxComponent:
    return TaxComponent(name=name, rate=Decimal(rate))


_GST_CA = _c("GST", "0.05")

# Standard-rated supplies.
_STANDARD: dict[str, tuple[TaxComponent, ...]] = {
    # United Kingdom. Source: HMRC, "VAT rates" (gov.uk/vat-rates) and VAT Notice 700.
    # As of 2026-01-01: standard 20% since 2011-01-04.
    "GB": (_c("VAT", "0.20"),),
    # Australia. Source: ATO, A New Tax System (Goods and Services Tax) Act 1999 s 9-70.
    # As of 2026-01-01: GST 10% since 2000-07-01.
    "AU": (_c("GST", "0.10"),),
    # New Zealand. Source: IRD, Goods and Services Tax Act 1985 s 8.
    # As of 2026-01-01: GST 15% since 2010-10-01.
    "NZ": (_c("GST", "0.15"),),
    # Canada. Source: CRA, "GST/HST rates" (canada.ca, GST/HST for businesses), and the
    # provincial authorities named per line. As of 2026-01-01.
    "CA-AB": (_GST_CA,),
    "CA-NT": (_GST_CA,),
    "CA-NU": (_GST_CA,),
    "CA-YT": (_GST_CA,),
    "CA-ON": (_c("HST", "0.13"),),
    "CA-NB": (_c("HST", "0.15"),),
    "CA-NL": (_c("HST", "0.15"),),
    "CA-PE": (_c("HST", "0.15"),),
    "CA-NS": (_c("HST", "0.14"),),  # reduced from 15% on 2025-04-01 (CRA notice)
    # BC PST: BC Ministry of Finance, Provincial Sales Tax Act, 7%.
    "CA-BC": (_GST_CA, _c("PST", "0.07")),
    # Manitoba RST: Manitoba Finance, The Retail Sales Tax Act, 7% since 2019-07-01.
    "CA-MB": (_GST_CA, _c("PST", "0.07")),
    # Saskatchewan PST: Saskatchewan Ministry of Finance, 6% since 2017-03-23.
    "CA-SK": (_GST_CA, _c("PST", "0.06")),
    # Quebec QST: Revenu Quebec, 9.975% since 2013-01-01, charged on the net (not on GST).
    "CA-QC": (_GST_CA, _c("QST", "0.09975")),
}

# Reduced-rated supplies; regions absent here have no reduced rate we support.
_REDUCED: dict[str, tuple[TaxComponent, ...]] = {
    # HMRC, "VAT rates": reduced rate 5% (domestic fuel and power, etc.). As of 2026-01-01.
    "GB": (_c("VAT", "0.05"),),
}

# Zero-rating applies to VAT, AU/NZ GST and Canadian GST/HST. Provincial PST/RST/QST have
# their own exemption lists, so for a zero-rated Canadian supply we show only the
# GST/HST component at 0 and charge no provincial tax.
_ZERO_RATED_NAMES = frozenset({"VAT", "GST", "HST"})

SUPPORTED_REGIONS: frozenset[str] = frozenset(_STANDARD)

# The names are stored on invoices as written here (short English names); documents show
# them in the reader's language (rendering/labels.py: GST is TPS in French, QST is TVQ).
TAX_NAMES: frozenset[str] = frozenset(
    c.name for table in (_STANDARD, _REDUCED) for cs in table.values() for c in cs
)


def _check_region(region: str) -> None:
    if region not in SUPPORTED_REGIONS:
        supported = ", ".join(sorted(SUPPORTED_REGIONS))
        raise UnknownTaxRegion(
            f"tax region {region!r} is not supported (supported: {supported}; "
            "Canada is by province or territory, e.g. 'CA-ON')"
        )


def components(region: str, category: TaxCategory) -> tuple[TaxComponent, ...]:
    """The tax components charged in `region` on a supply of `category`, in invoice order.

    Exempt supplies have no components. A category a region does not have (e.g. a reduced
    rate in Australia) raises `UnsupportedTaxCategory` rather than guessing a rate.
    """
    _check_region(region)
    try:
        category = TaxCategory(category)
    except ValueError:
        known = ", ".join(c.value for c in TaxCategory)
        raise UnsupportedTaxCategory(
            f"tax category {category!r} is unknown (known: {known})"
        ) from None
    if category is TaxCategory.STANDARD:
        return _STANDARD[region]
    if category is TaxCategory.REDUCED:
        if region not in _REDUCED:
            raise UnsupportedTaxCategory(
                f"tax category 'reduced' is not supported in region {region!r} "
                "(it has no reduced rate we model; use 'standard', 'zero' or 'exempt')"
            )
        return _REDUCED[region]
    if category is TaxCategory.ZERO:
        return tuple(
            TaxComponent(name=c.name, rate=Decimal(0))
            for c in _STANDARD[region]
            if c.name in _ZERO_RATED_NAMES
        )
    return ()
