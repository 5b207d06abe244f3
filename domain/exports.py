"""The arithmetic of an invoice export: tax columns named by tax and rate, a credit note's
tax per rate, and amounts in major units as exact decimals.

An export has one column per (tax name, rate) seen in its period ("VAT 20%", "GST 5%",
"QST 9.975%"), so a row's tax-per-rate cells add up to its tax cell. Pure functions: the
store reads the rows, the file writers format them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.money import DECIMAL_CONTEXT, exponent, round_minor


@dataclass(frozen=True, order=True)
class TaxColumn:
    """One tax at one rate; `rate` is a fraction (0.20 for 20%), normalized so that a rate
    stored as "0.2" and one stored as "0.20" are the same column."""

    name: str
    rate: Decimal

    @property
    def label(self) -> str:
        percent = DECIMAL_CONTEXT.multiply(self.rate, Decimal(100)).normalize(DECIMAL_CONTEXT)
        return f"{self.name} {percent:f}%"


def tax_column(tax_line: Mapping[str, Any]) -> TaxColumn:
    """The column of a stored tax line (`Invoice.tax_lines`: name, rate as text, ...)."""
    rate = Decimal(str(tax_line["rate"])).normalize(DECIMAL_CONTEXT)
    return TaxColumn(name=str(tax_line["name"]), rate=rate)


def invoice_taxes(tax_lines: Iterable[Mapping[str, Any]]) -> dict[TaxColumn, int]:
    """An invoice's tax per column, in minor units (two lines at one rate are added)."""
    taxes: dict[TaxColumn, int] = {}
    for line in tax_lines:
        column = tax_column(line)
        taxes[column] = taxes.get(column, 0) + int(line["tax_minor"])
    return taxes


def credited_taxes(
    tax_lines: Iterable[Mapping[str, Any]], invoice_total_minor: int, credit_minor: int
) -> dict[TaxColumn, int]:
    """The tax per column inside a credit note of `credit_minor` (gross) on an invoice:
    each of the invoice's tax amounts scaled by credit / invoice gross, rounded by the
    project's rule (half away from zero). Crediting the whole invoice gives back exactly
    its taxes; the net is what is left of the gross, so net + tax = gross always.

    A credit note's e-invoice (`domain.documents.credit_split`) shares the gross per VAT
    category and then splits net from VAT; on a partial credit the two can differ by one
    minor unit per rate. The export keeps this simpler rule because it also covers two
    taxes on one supply (Canadian GST + PST), which EN 16931 documents cannot carry.
    """
    if invoice_total_minor <= 0 or credit_minor == 0:
        return {}
    ratio = DECIMAL_CONTEXT.divide(Decimal(credit_minor), Decimal(invoice_total_minor))
    return {
        column: round_minor(DECIMAL_CONTEXT.multiply(Decimal(tax), ratio))
        for column, tax in invoice_taxes(tax_lines).items()
    }


def major_units(amount_minor: int, currency: str) -> Decimal:
    """`amount_minor` as an exact decimal in major units with the currency's digits:
    12345 GBP is Decimal("123.45"), 1000 JPY is Decimal("1000"), 1234 KWD Decimal("1.234")."""
    digits = exponent(currency)
    return (
        Decimal(amount_minor)
        .scaleb(-digits, DECIMAL_CONTEXT)
        .quantize(Decimal(1).scaleb(-digits), context=DECIMAL_CONTEXT)
    )
