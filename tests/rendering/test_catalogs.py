"""The translation catalogs: complete for every text the sources mark, compiled, consistent.

A new string in a template or a renderer without its French translation fails here, and so
does a .po edited without `make i18n` (the committed .mo would no longer match it).
"""

from __future__ import annotations

from gettext import GNUTranslations
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from rendering.i18n import LANGUAGES, LOCALES_DIR

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [language for language in LANGUAGES if language != "en"]  # English is the source


def _po(language: str) -> Catalog:
    with open(LOCALES_DIR / language / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=language)


def _extracted() -> set[tuple[str | None, str]]:
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        found.add((context, message[0] if isinstance(message, tuple) else message))
    return found


def _key(message: Message) -> tuple[str | None, str]:
    msgid = message.id
    return message.context, msgid if isinstance(msgid, str) else msgid[0]


def _text(message: Message) -> tuple[str, ...]:
    string = message.string
    return (string,) if isinstance(string, str) else tuple(string or ())


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_marked_text_has_a_translation(language: str) -> None:
    extracted = _extracted()
    assert ("tax", "QST") in extracted and (None, "Pay now") in extracted  # extraction works
    catalog = _po(language)
    translated = {
        _key(m)
        for m in catalog
        if m.id and not m.fuzzy and (all(m.string) if isinstance(m.string, tuple) else m.string)
    }
    missing = sorted(extracted - translated, key=str)
    assert not missing, f"untranslated in {language}: {missing} (run make i18n, then translate)"


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_their_placeholders(language: str) -> None:
    problems = [(m.id, errors) for m, errors in _po(language).check()]
    assert not problems


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_committed_mo_is_compiled_from_the_po(language: str) -> None:
    with open(LOCALES_DIR / language / "LC_MESSAGES" / "messages.mo", "rb") as f:
        compiled = GNUTranslations(f)
    stale = []
    for message in _po(language):
        if not message.id or message.fuzzy:
            continue
        context, msgid = _key(message)
        if isinstance(message.id, str):
            got: tuple[str, ...] = (
                compiled.pgettext(context, msgid) if context else compiled.gettext(msgid),
            )
        else:
            plural = message.id[1]
            got = tuple(
                compiled.npgettext(context, msgid, plural, n)
                if context
                else compiled.ngettext(msgid, plural, n)
                for n in (1, 2)
            )
        if got != _text(message):
            stale.append((context, msgid))
    assert not stale, f"messages.mo is stale for {stale}: run make i18n"
