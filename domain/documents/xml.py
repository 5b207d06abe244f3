"""Small helpers both serializers share: building elements in order, and writing amounts,
rates, quantities and dates the way EN 16931 syntaxes want them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from lxml import etree


class Builder:
    """Appends namespaced children in document order; the schemas fix the order, so the
    serializers write elements in the sequence the XSD declares."""

    def __init__(self, namespaces: dict[str, str], default: str | None = None) -> None:
        """`namespaces` by prefix; `default`, if given, is the root's unprefixed one."""
        self.namespaces = namespaces
        self.default = default

    def qname(self, name: str) -> str:
        prefix, _, local = name.rpartition(":")
        namespace = self.namespaces[prefix] if prefix else self.default
        return f"{{{namespace}}}{local}"

    def root(self, name: str) -> etree._Element:
        nsmap: dict[str | None, str] = {None: self.default} if self.default else {}
        nsmap.update(self.namespaces)
        # lxml takes None as the default namespace's prefix; its stubs say str only
        return etree.Element(self.qname(name), nsmap=nsmap)  # type: ignore[arg-type]

    def add(
        self,
        parent: etree._Element,
        name: str,
        text: str | None = None,
        **attributes: str,
    ) -> etree._Element:
        element = etree.SubElement(parent, self.qname(name))
        if text is not None:
            element.text = text
        for key, value in attributes.items():
            element.set(key, value)
        return element

    def add_if(self, parent: etree._Element, name: str, text: str | None) -> None:
        """Add `name` only when there is something to say (optional terms)."""
        if text:
            self.add(parent, name, text)


def amount(value: Decimal) -> str:
    """Two decimals, no exponent: "1234.50"."""
    return f"{value:.2f}"


def number(value: Decimal) -> str:
    """A rate or quantity as written: "20", "9.975", "7.25" (no exponent, no padding)."""
    return f"{value.normalize():f}"


def iso_date(value: dt.date) -> str:
    return value.isoformat()


def compact_date(value: dt.date) -> str:
    """CII's date format 102: CCYYMMDD."""
    return value.strftime("%Y%m%d")


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
