"""Words that come from data, put into the reader's language: units, tax names, statuses.

Units: a contract rate's ``unit`` is free text. Measures CLDR knows (hour, day, month,
litre, kilometre, gigabyte...) are formatted by ``babel.units.format_unit`` with CLDR's
plural rules ("1,5 heure", "12.5 hours"); the countable units an invoice commonly uses and
CLDR lacks (unit, licence, seat...) come from our catalog; any other word is shown as
written. Only exact names match: Babel's own lookup also matches suffixes, which would turn
"unit" into "astronomical unit".

Tax names are stored as the domain's short English names (``domain.tax``: VAT, GST, HST,
PST, QST) and translated here with the context ``tax`` (TPS, TVH, TVP, TVQ, TVA in French).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from gettext import NullTranslations

from babel import Locale
from babel.numbers import format_decimal
from babel.units import format_unit

# CLDR unit categories whose names are safe to match exactly ("hour" -> duration-hour)
_CLDR_CATEGORIES = ("duration", "length", "mass", "volume", "area", "digital")
_SPELLINGS = {"metre": "meter", "litre": "liter", "license": "licence"}

Translate = Callable[[NullTranslations, int], str]

# Countable units CLDR has no name for. The number is %(num)s, already formatted.
_COUNTED: dict[str, Translate] = {
    "unit": lambda t, n: t.npgettext("unit", "%(num)s unit", "%(num)s units", n),
    "item": lambda t, n: t.npgettext("unit", "%(num)s item", "%(num)s items", n),
    "piece": lambda t, n: t.npgettext("unit", "%(num)s piece", "%(num)s pieces", n),
    "licence": lambda t, n: t.npgettext("unit", "%(num)s licence", "%(num)s licences", n),
    "seat": lambda t, n: t.npgettext("unit", "%(num)s seat", "%(num)s seats", n),
    "user": lambda t, n: t.npgettext("unit", "%(num)s user", "%(num)s users", n),
    "request": lambda t, n: t.npgettext("unit", "%(num)s request", "%(num)s requests", n),
    "project": lambda t, n: t.npgettext("unit", "%(num)s project", "%(num)s projects", n),
    "session": lambda t, n: t.npgettext("unit", "%(num)s session", "%(num)s sessions", n),
    "visit": lambda t, n: t.npgettext("unit", "%(num)s visit", "%(num)s visits", n),
    "page": lambda t, n: t.npgettext("unit", "%(num)s page", "%(num)s pages", n),
    "word": lambda t, n: t.npgettext("unit", "%(num)s word", "%(num)s words", n),
}

_TAXES: dict[str, Callable[[NullTranslations], str]] = {
    "VAT": lambda t: t.pgettext("tax", "VAT"),
    "GST": lambda t: t.pgettext("tax", "GST"),
    "HST": lambda t: t.pgettext("tax", "HST"),
    "PST": lambda t: t.pgettext("tax", "PST"),
    "QST": lambda t: t.pgettext("tax", "QST"),
}
TRANSLATED_TAX_NAMES = frozenset(_TAXES)

_STATUSES: dict[str, Callable[[NullTranslations], str]] = {
    "PENDING": lambda t: t.pgettext("invoice status", "Being prepared"),
    "REJECTED": lambda t: t.pgettext("invoice status", "Refused"),
    "AWAITING_APPROVAL": lambda t: t.pgettext("invoice status", "Being approved"),
    "CHANGES_REQUESTED": lambda t: t.pgettext("invoice status", "Being corrected"),
    "APPROVAL_EXPIRED": lambda t: t.pgettext("invoice status", "Being approved"),
    "EXCEPTION": lambda t: t.pgettext("invoice status", "Being checked"),
    "ISSUED": lambda t: t.pgettext("invoice status", "Issued"),
    "PARTIALLY_PAID": lambda t: t.pgettext("invoice status", "Partly paid"),
    "OVERDUE": lambda t: t.pgettext("invoice status", "Overdue"),
    # what the customer reads of an invoice handed to collections
    "COLLECTIONS": lambda t: t.pgettext("invoice status", "Overdue"),
    "PAID": lambda t: t.pgettext("invoice status", "Paid"),
    "CLOSED": lambda t: t.pgettext("invoice status", "Closed"),
    "CANCELLED": lambda t: t.pgettext("invoice status", "Cancelled"),
    "DISPUTED": lambda t: t.pgettext("invoice status", "Disputed"),
    "VOID": lambda t: t.pgettext("invoice status", "Void"),
}


def _normalise(unit: str) -> str:
    word = unit.strip().lower().replace(" ", "-").replace("_", "-")
    for british, cldr in _SPELLINGS.items():
        word = word.replace(british, cldr)
    return word


def _cldr_unit(word: str, locale: Locale) -> str | None:
    patterns = locale._data["unit_patterns"]
    if word in patterns:
        return word
    for category in _CLDR_CATEGORIES:
        if f"{category}-{word}" in patterns:
            return f"{category}-{word}"
    return None


def _plural_index(quantity: Decimal, locale: Locale) -> int:
    # gettext's plural formula takes an integer; CLDR's rule takes the decimal ("1,5 heure"
    # in French, "1.5 hours" in English). Both our languages have two gettext forms.
    return 1 if locale.plural_form(quantity) == "one" else 2


def _number(quantity: Decimal, locale: Locale) -> str:
    return format_decimal(quantity, locale=locale, decimal_quantization=False)


def quantity_with_unit(
    quantity: Decimal | str | int, unit: str, locale: Locale, t: NullTranslations
) -> str:
    """``8 hours``, ``1 day``, ``12,5 heures``, ``3 unités``; an unknown unit as written."""
    value = Decimal(str(quantity))
    word = _normalise(unit)
    candidates = [word, word[:-1]] if word.endswith("s") and len(word) > 2 else [word]
    for candidate in candidates:
        cldr = _cldr_unit(candidate, locale)
        if cldr is not None:
            # CLDR's own number pattern keeps 3 decimals; keep what the line says
            pattern = None if -value.as_tuple().exponent <= 3 else "#,##0.#########"  # type: ignore[operator]
            return format_unit(value, cldr, length="long", format=pattern, locale=locale)
        if candidate in _COUNTED:
            num = _number(value, locale)
            return _COUNTED[candidate](t, _plural_index(value, locale)) % {"num": num}
    return f"{_number(value, locale)} {unit}".strip()


def tax_label(name: str, t: NullTranslations) -> str:
    """``GST`` -> ``TPS`` in French; a name we do not know is shown as stored."""
    label = _TAXES.get(name)
    return label(t) if label else name


def status_label(status: str, t: NullTranslations) -> str:
    label = _STATUSES.get(status)
    return label(t) if label else status.replace("_", " ").capitalize()
