"""Units, plurals, tax names and locales: CLDR through Babel, our catalog for the rest."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.tax import TAX_NAMES
from rendering.i18n import babel_locale, html_lang, negotiate, translations
from rendering.labels import TRANSLATED_TAX_NAMES, quantity_with_unit, tax_label


def q(quantity: str, unit: str, tag: str) -> str:
    locale = babel_locale(tag)
    return quantity_with_unit(Decimal(quantity), unit, locale, translations(locale))


@pytest.mark.parametrize(
    ("quantity", "unit", "tag", "expected"),
    [
        ("1", "hour", "en_GB", "1 hour"),
        ("1.5", "hour", "en_GB", "1.5 hours"),  # English: only exactly 1 is singular
        ("12.5", "hour", "en_AU", "12.5 hours"),
        ("5", "day", "en_AU", "5 days"),
        ("8", "hour", "fr_CA", "8 heures"),
        ("1.5", "hour", "fr_CA", "1,5 heure"),  # French: below 2 is singular (CLDR)
        ("12.5", "hour", "fr_CA", "12,5 heures"),
        ("1", "day", "fr_CA", "1 jour"),
        ("2", "month", "fr_CA", "2 mois"),
        ("3", "litre", "en_GB", "3 litres"),  # British spelling of a CLDR unit
        ("3", "liter", "fr_CA", "3 litres"),
        ("8", "hours", "en_GB", "8 hours"),  # a unit written in the plural
        ("0.125", "hour", "en_GB", "0.125 hours"),
        ("1.2345", "day", "en_GB", "1.2345 days"),  # not rounded to CLDR's 3 decimals
        ("1234", "hour", "fr_CA", "1\u00a0234 heures"),
    ],
)
def test_cldr_units_with_plurals(quantity: str, unit: str, tag: str, expected: str) -> None:
    assert q(quantity, unit, tag) == expected


@pytest.mark.parametrize(
    ("quantity", "unit", "tag", "expected"),
    [
        ("1", "unit", "en_GB", "1 unit"),
        ("3", "unit", "en_GB", "3 units"),
        ("3", "unit", "fr_CA", "3 unités"),  # not "unités astronomiques" (Babel's suffix match)
        ("1.5", "unit", "fr_CA", "1,5 unité"),
        ("1.5", "unit", "en_AU", "1.5 units"),
        ("2", "licence", "fr_CA", "2 licences"),
        ("2", "license", "en_GB", "2 licences"),
        ("4", "seat", "fr_CA", "4 postes"),
        ("3", "widget", "fr_CA", "3 widget"),  # unknown: as the contract wrote it
        ("3", "s", "en_GB", "3 s"),  # not "US therms"
    ],
)
def test_counted_units_come_from_the_catalog_and_unknown_ones_stay_as_written(
    quantity: str, unit: str, tag: str, expected: str
) -> None:
    assert q(quantity, unit, tag) == expected


def test_every_tax_the_rate_tables_charge_has_a_french_label() -> None:
    assert TAX_NAMES <= TRANSLATED_TAX_NAMES
    french = translations(babel_locale("fr_CA"))
    labels = {name: tax_label(name, french) for name in TAX_NAMES}
    assert labels == {"VAT": "TVA", "GST": "TPS", "HST": "TVH", "PST": "TVP", "QST": "TVQ"}
    english = translations(babel_locale("en_AU"))
    assert {tax_label(name, english) for name in TAX_NAMES} == set(TAX_NAMES)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.8", "fr_CA"),
        ("de-DE,de;q=0.9,fr;q=0.5", "fr"),  # German has no catalog; French is next
        ("en-AU", "en_AU"),
        ("de", "en_GB"),
        ("", "en_GB"),
        (None, "en_GB"),
        ("fr;q=0.1, en-GB;q=0.9", "en_GB"),
        ("*;q=1, xx-YY", "en_GB"),
    ],
)
def test_pages_without_a_customer_follow_accept_language(header: str | None, expected: str) -> None:
    assert str(negotiate(header)) == expected


def test_html_lang_is_a_bcp47_tag() -> None:
    assert html_lang(babel_locale("fr_CA")) == "fr-CA"
    assert html_lang(babel_locale("en-AU")) == "en-AU"
    assert html_lang(babel_locale("nonsense")) == "en-GB"
