"""Tests for domain.tax: the rate tables per region and category."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import UnknownTaxRegion, UnsupportedTaxCategory
from domain.tax import SUPPORTED_REGIONS, TaxCategory, TaxComponent, components

CANADA = [
    "CA-AB",
    "CA-BC",
    "CA-MB",
    "CA-NB",
    "CA-NL",
    "CA-NS",
    "CA-NT",
    "CA-NU",
    "CA-ON",
    "CA-PE",
    "CA-QC",
    "CA-SK",
    "CA-YT",
]


def _pairs(found: tuple[TaxComponent, ...]) -> list[tuple[str, Decimal]]:
    return [(c.name, c.rate) for c in found]


def test_supported_regions_are_gb_au_nz_and_every_canadian_province_and_territory() -> None:
    assert SUPPORTED_REGIONS == frozenset(["GB", "AU", "NZ", *CANADA])


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("GB", [("VAT", "0.20")]),
        ("AU", [("GST", "0.10")]),
        ("NZ", [("GST", "0.15")]),
        ("CA-AB", [("GST", "0.05")]),
        ("CA-NT", [("GST", "0.05")]),
        ("CA-NU", [("GST", "0.05")]),
        ("CA-YT", [("GST", "0.05")]),
        ("CA-ON", [("HST", "0.13")]),
        ("CA-NB", [("HST", "0.15")]),
        ("CA-NL", [("HST", "0.15")]),
        ("CA-PE", [("HST", "0.15")]),
        ("CA-NS", [("HST", "0.14")]),
        ("CA-BC", [("GST", "0.05"), ("PST", "0.07")]),
        ("CA-MB", [("GST", "0.05"), ("PST", "0.07")]),
        ("CA-SK", [("GST", "0.05"), ("PST", "0.06")]),
        ("CA-QC", [("GST", "0.05"), ("QST", "0.09975")]),
    ],
)
def test_standard_rate_components(region: str, expected: list[tuple[str, str]]) -> None:
    assert _pairs(components(region, TaxCategory.STANDARD)) == [
        (name, Decimal(rate)) for name, rate in expected
    ]


def test_gb_reduced_rate_is_vat_at_5_percent() -> None:
    assert _pairs(components("GB", TaxCategory.REDUCED)) == [("VAT", Decimal("0.05"))]


@pytest.mark.parametrize("region", ["AU", "NZ", *CANADA])
def test_reduced_rate_is_unsupported_outside_gb(region: str) -> None:
    with pytest.raises(UnsupportedTaxCategory) as excinfo:
        components(region, TaxCategory.REDUCED)
    assert excinfo.value.code == "unsupported_tax_category"
    assert repr(region) in excinfo.value.detail


@pytest.mark.parametrize(
    ("region", "names"),
    [
        ("GB", ["VAT"]),
        ("AU", ["GST"]),
        ("NZ", ["GST"]),
        ("CA-AB", ["GST"]),
        ("CA-ON", ["HST"]),
        ("CA-NS", ["HST"]),
        # Zero-rating is a GST/HST notion: no provincial component appears.
        ("CA-BC", ["GST"]),
        ("CA-MB", ["GST"]),
        ("CA-SK", ["GST"]),
        ("CA-QC", ["GST"]),
    ],
)
def test_zero_rated_supplies_get_the_same_tax_at_zero(region: str, names: list[str]) -> None:
    assert _pairs(components(region, TaxCategory.ZERO)) == [(n, Decimal(0)) for n in names]


@pytest.mark.parametrize("region", sorted(SUPPORTED_REGIONS))
def test_exempt_supplies_have_no_components_anywhere(region: str) -> None:
    assert components(region, TaxCategory.EXEMPT) == ()


@pytest.mark.parametrize("region", ["CA", "US", "gb", "", "CA-XX", "UK"])
def test_unknown_region_is_refused_and_named(region: str) -> None:
    with pytest.raises(UnknownTaxRegion) as excinfo:
        components(region, TaxCategory.STANDARD)
    assert excinfo.value.code == "unknown_tax_region"
    assert repr(region) in excinfo.value.detail


def test_category_given_as_plain_string_works() -> None:
    assert _pairs(components("GB", "reduced")) == [("VAT", Decimal("0.05"))]  # type: ignore[arg-type]


def test_unknown_category_string_is_refused() -> None:
    with pytest.raises(UnsupportedTaxCategory) as excinfo:
        components("GB", "luxury")  # type: ignore[arg-type]
    assert "'luxury'" in excinfo.value.detail
