"""A credit note's gross splits into net and VAT per rate so that every sum closes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.documents.build import vat_parts
from domain.documents.credit_split import VatPart, split_credit
from domain.documents.model import VatCategory
from domain.errors import InvalidAmount
from domain.money import round_minor
from tests.documents import samples

RATES = [Decimal("0.20"), Decimal("0.05"), Decimal("0.13"), Decimal("0.10"), Decimal("0.15")]


def test_crediting_the_whole_invoice_gives_back_its_own_breakdown() -> None:
    parts = vat_parts(samples.uk_multi_rate())
    gross = sum(part.gross_minor for part in parts)
    assert split_credit(gross, parts) == parts


def test_a_partial_credit_is_shared_pro_rata_and_adds_up_to_its_gross() -> None:
    parts = [
        VatPart(
            category=VatCategory.STANDARD,
            rate=Decimal("0.20"),
            taxable_minor=10_000,
            tax_minor=2_000,
        ),  # fmt: skip
        VatPart(
            category=VatCategory.EXEMPT, rate=Decimal(0), taxable_minor=12_000, tax_minor=0
        ),  # fmt: skip
    ]
    credit = split_credit(1_001, parts)
    # the exempt part's share is 1001 x 12000 / 24000 = 500.5 -> 501 (half away from
    # zero); the largest part (on a tie the first: the standard one) takes the rest, 500
    assert [part.gross_minor for part in credit] == [500, 501]
    assert sum(part.gross_minor for part in credit) == 1_001
    standard = credit[0]
    assert standard.taxable_minor + standard.tax_minor == standard.gross_minor
    assert abs(standard.tax_minor - round_minor(standard.taxable_minor * Decimal("0.20"))) <= 1


def test_a_credit_above_the_invoice_or_of_nothing_is_refused() -> None:
    parts = vat_parts(samples.uk_standard())
    gross = sum(part.gross_minor for part in parts)
    with pytest.raises(InvalidAmount):
        split_credit(gross + 1, parts)
    with pytest.raises(InvalidAmount):
        split_credit(0, parts)


@st.composite
def _invoice_parts(draw: st.DrawFn) -> list[VatPart]:
    rates = draw(st.lists(st.sampled_from(RATES), min_size=1, max_size=4, unique=True))
    parts = []
    for rate in rates:
        taxable = draw(st.integers(min_value=1, max_value=10**9))
        parts.append(
            VatPart(
                category=VatCategory.STANDARD,
                rate=rate,
                taxable_minor=taxable,
                tax_minor=round_minor(taxable * rate),
            )  # fmt: skip
        )
    if draw(st.booleans()):
        parts.append(VatPart(category=VatCategory.ZERO_RATED, rate=Decimal(0),
                             taxable_minor=draw(st.integers(1, 10**6)), tax_minor=0))  # fmt: skip
    return parts


@given(parts=_invoice_parts(), fraction=st.fractions(min_value=0, max_value=1))
def test_any_credit_splits_into_parts_that_close(parts: list[VatPart], fraction: object) -> None:
    invoice_gross = sum(part.gross_minor for part in parts)
    gross = max(1, int(invoice_gross * fraction))  # type: ignore[operator]
    credit = split_credit(gross, parts)
    assert sum(part.gross_minor for part in credit) == gross
    for part in credit:
        assert part.taxable_minor >= 0 and part.tax_minor >= 0
        # within one minor unit of net x rate: the model's BR-S-09 check, stricter than
        # the standard's one currency unit
        assert abs(part.tax_minor - round_minor(part.taxable_minor * part.rate)) <= 1
