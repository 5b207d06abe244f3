"""The code lists an e-invoice needs, mapped from the project's own words.

- Units (BT-130) come from UN/ECE Recommendation 20: an invoice line's `unit` is free text
  in the project ("hour", "day", "unit"), so the common ones map to their code and the rest
  to C62 ("one", a piece), which every receiver accepts; the line's description still
  says what was billed.
- VAT categories (BT-151/BT-118) come from UNTDID 5305 as EN 16931 restricts it: the
  project's standard and reduced rates are both S (EN 16931 has no reduced-rate code; the
  rate tells them apart), zero-rated is Z and exempt is E, with an exemption reason
  (BT-120, required by BR-E-10) in the region's own words.
"""

from __future__ import annotations

from domain.documents.model import VatCategory
from domain.tax import TaxCategory

_UNIT_CODES: dict[str, str] = {
    "hour": "HUR",
    "hours": "HUR",
    "hr": "HUR",
    "h": "HUR",
    "day": "DAY",
    "days": "DAY",
    "week": "WEE",
    "weeks": "WEE",
    "month": "MON",
    "months": "MON",
    "year": "ANN",
    "years": "ANN",
    "minute": "MIN",
    "minutes": "MIN",
}
PIECE = "C62"  # "one": a unit, a piece, an item, a request, a milestone


def unit_code(unit: str) -> str:
    """BT-130 for a line's free-text unit ("hour" -> HUR, "day" -> DAY, else C62)."""
    return _UNIT_CODES.get(unit.strip().lower(), PIECE)


_VAT_CATEGORIES: dict[TaxCategory, VatCategory] = {
    TaxCategory.STANDARD: VatCategory.STANDARD,
    TaxCategory.REDUCED: VatCategory.STANDARD,
    TaxCategory.ZERO: VatCategory.ZERO_RATED,
    TaxCategory.EXEMPT: VatCategory.EXEMPT,
}


def vat_category(category: TaxCategory) -> VatCategory:
    """BT-151 for one of the project's tax categories."""
    return _VAT_CATEGORIES[category]


# BT-120 for exempt supplies, by country: the law that exempts them, in the words its tax
# authority uses on invoices.
_EXEMPTION_REASONS: dict[str, str] = {
    "GB": "Exempt from VAT (VAT Act 1994, Schedule 9)",
    "AU": "Input-taxed supply: no GST (GST Act 1999, Division 40)",
    "NZ": "Exempt supply: no GST (GST Act 1985, section 14)",
    "CA": "Exempt supply: no GST/HST (Excise Tax Act, Schedule V)",
}


def exemption_reason(country_code: str) -> str:
    """BT-120 for an exempt supply taxed in `country_code`."""
    return _EXEMPTION_REASONS.get(country_code, "Exempt from VAT")


# How the settings' free-text addresses name the countries we invoice in: a last address
# line that only names the country is the country (BT-40), not a street line.
COUNTRY_NAMES: dict[str, str] = {
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "australia": "AU",
    "new zealand": "NZ",
    "canada": "CA",
}


def country_of_region(tax_region: str) -> tuple[str, str | None]:
    """The ISO country (BT-55) and subdivision (BT-54) of a tax region: "CA-ON" is
    ("CA", "ON"), "GB" is ("GB", None)."""
    country, _, subdivision = tax_region.partition("-")
    return country, subdivision or None
