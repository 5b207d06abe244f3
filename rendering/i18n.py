"""Translations for everything a customer or approver reads: gettext catalogs and Jinja.

The catalogs live in ``rendering/locales/<lang>/LC_MESSAGES/messages.po`` (source text is
English, so English needs no catalog) and are compiled to ``.mo`` files that are committed
next to them; ``make i18n`` extracts, updates and compiles them (see ``babel.cfg``).
``gettext`` looks up ``fr_CA`` then ``fr``, so one French catalog serves fr-CA and fr-FR.

``environment(locale)`` is the one way to get a Jinja environment for a document: the
``jinja2.ext.i18n`` extension with that locale's catalog installed (newstyle gettext, so
``{{ _("Hello %(name)s", name=...) }}`` escapes its arguments in HTML templates).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.support import NullTranslations, Translations
from jinja2 import Environment, PackageLoader, select_autoescape

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT_LOCALE = "en_GB"
# The languages with a catalog, plus English (the source text). Asked for another
# language, a reader gets English with their own number and date formats.
LANGUAGES = ("en", "fr")


def N_(message: str) -> str:  # noqa: N802 (the gettext convention for "mark, translate later")
    """Mark a string for extraction where it is translated later (``t.gettext(message)``)."""
    return message


def babel_locale(tag: str | None) -> Locale:
    """``fr-CA``, ``fr_CA`` and ``en`` all work; an unknown or empty tag falls back to en_GB."""
    try:
        return Locale.parse((tag or DEFAULT_LOCALE).replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(DEFAULT_LOCALE)


def html_lang(locale: Locale) -> str:
    """The BCP 47 tag for ``<html lang>``: ``fr-CA``, ``en-GB``."""
    return f"{locale.language}-{locale.territory}" if locale.territory else locale.language


@lru_cache(maxsize=32)
def _translations(tag: str) -> NullTranslations:
    return Translations.load(str(LOCALES_DIR), [tag], DOMAIN)


def translations(locale: Locale) -> NullTranslations:
    """The catalog for `locale` (falling back from ``fr_CA`` to ``fr``, then to English)."""
    return _translations(str(locale))


@lru_cache(maxsize=64)
def _environment(package: str, folder: str, tag: str) -> Environment:
    env = Environment(
        loader=PackageLoader(package, folder),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(_translations(tag), newstyle=True)  # type: ignore[attr-defined]
    return env


def environment(
    locale: Locale, package: str = "rendering", folder: str = "templates"
) -> Environment:
    """A Jinja environment for `package`/`folder` templates, translated into `locale`.

    Cached per (package, folder, locale); templates get ``_``, ``gettext``, ``ngettext``,
    ``pgettext`` and ``npgettext``. Pair it with ``rendering.formatting.Formats`` for
    amounts, quantities, dates and tax labels.
    """
    return _environment(package, folder, str(locale))


def negotiate(accept_language: str | None) -> Locale:
    """The reader's locale from an ``Accept-Language`` header (for pages with no customer
    to ask, such as an invalid link), among the languages we translate; else en_GB."""
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag.strip() and tag.strip() != "*" and quality > 0:
            wanted.append((-quality, position, tag.strip()))
    for _q, _p, tag in sorted(wanted):
        try:
            locale = Locale.parse(tag.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            continue
        if locale.language in LANGUAGES:
            return locale
    return babel_locale(DEFAULT_LOCALE)
