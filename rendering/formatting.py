"""Amounts, quantities, rates, dates and labels in the reader's locale, for templates.

Amounts are stored in integer minor units; they become a Decimal only here, for display
(``1 234,56 $`` in fr-CA, ``£1,234.56`` in en-GB).

A document's renderer builds ``Formats(locale, currency)`` and passes ``formats.context()``
to a template from ``rendering.i18n.environment(locale)``; templates then call
``money(...)``, ``quantity(q, unit)``, ``percent(rate)``, ``date(d)``, ``tax_label(name)``,
``status_label(status)`` and put ``lang`` in ``<html lang>``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_percent
from babel.support import NullTranslations

from domain.money import exponent
from rendering import labels
from rendering.i18n import html_lang, translations


def money(amount_minor: int, currency: str, locale: Locale) -> str:
    major = Decimal(amount_minor).scaleb(-exponent(currency))
    return format_currency(major, currency, locale=locale)


@dataclass(frozen=True)
class Formats:
    locale: Locale
    currency: str

    @property
    def translations(self) -> NullTranslations:
        return translations(self.locale)

    def money(self, amount_minor: int) -> str:
        return money(amount_minor, self.currency, self.locale)

    def quantity(self, quantity: Decimal | str | int, unit: str) -> str:
        return labels.quantity_with_unit(quantity, unit, self.locale, self.translations)

    def percent(self, rate: Decimal | str) -> str:
        return format_percent(Decimal(str(rate)), locale=self.locale, decimal_quantization=False)

    def date(self, day: dt.date | str | None) -> str:
        if day is None:
            return ""
        if isinstance(day, str):
            day = dt.date.fromisoformat(day[:10])
        return format_date(day, format="long", locale=self.locale)

    def tax_label(self, name: str) -> str:
        return labels.tax_label(name, self.translations)

    def status_label(self, status: str) -> str:
        return labels.status_label(status, self.translations)

    def context(self) -> dict[str, Any]:
        return {
            "lang": html_lang(self.locale),
            "money": self.money,
            "quantity": self.quantity,
            "percent": self.percent,
            "date": self.date,
            "tax_label": self.tax_label,
            "status_label": self.status_label,
        }
