"""A CSV cell a spreadsheet would run as a formula is written as text: a customer name
starting with =, +, -, @ gets an apostrophe first; amounts (negative for credit notes) and
dates are written as they are."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.exports import _csv_text


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (
            '=HYPERLINK("http://evil.test","Pay here")',
            '\'=HYPERLINK("http://evil.test","Pay here")',
        ),
        ("+44 20 7946 0000", "'+44 20 7946 0000"),
        ("-Ltd", "'-Ltd"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("ACME Ltd", "ACME Ltd"),
        (Decimal("-12.50"), "-12.50"),
        (dt.date(2026, 12, 2), "2026-12-02"),
        (None, ""),
    ],
)
def test_formulas_are_defused_and_amounts_and_dates_kept(cell: object, written: str) -> None:
    assert _csv_text(cell) == written  # type: ignore[arg-type]
