"""The document model: built from stored invoices and credit notes with sums that close,
and refused when a sum rule does not hold."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.documents.build import (
    UnsupportedDocument,
    credit_note_document,
    invoice_document,
    seller_party,
)
from domain.documents.codes import unit_code
from domain.documents.model import InvoiceDocument, VatCategory
from domain.invoicing import BillableItem, ExplicitLine
from domain.tax import TaxCategory
from tests.documents import samples


def _broken(document: InvoiceDocument, **changes: object) -> dict[str, object]:
    data = document.model_dump()
    for path, value in changes.items():
        target = data
        *parents, leaf = path.split("__")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]  # type: ignore[index]
        target[leaf] = value
    return data


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"totals__line_net_total": Decimal("1.00")}, "BR-CO-10"),
        ({"lines__0__net_amount": Decimal("1.00")}, "BR-CO-10"),
        ({"totals__vat_total": Decimal("1.00")}, "BR-CO-14"),
        ({"totals__total_with_vat": Decimal("1.00")}, "BR-CO-15"),
        ({"totals__amount_due": Decimal("1.00")}, "BR-CO-16"),
        (
            {
                "vat_breakdown__1__tax_amount": Decimal("7.00"),  # 5% of 99.99 is 5.00
                "totals__vat_total": Decimal("640.33"),
                "totals__total_with_vat": Decimal("4331.95"),
                "totals__amount_due": Decimal("4331.95"),
            },
            "BR-S-09",
        ),
        ({"vat_breakdown__3__exemption_reason": None}, "BR-E-10"),
        ({"lines__2__vat_rate": Decimal(7)}, "BR-S-08/BR-Z-08/BR-E-08"),
    ],
)
def test_a_document_whose_sums_do_not_close_is_refused(
    changes: dict[str, object], rule: str
) -> None:
    document = invoice_document(samples.uk_multi_rate(), seller=samples.UK_SELLER)
    InvoiceDocument.model_validate(document.model_dump())  # unchanged, it is accepted
    with pytest.raises(ValidationError, match=f"\\[{rule}\\]"):
        InvoiceDocument.model_validate(_broken(document, **changes))


def test_a_breakdown_taxable_amount_must_equal_its_lines() -> None:
    document = invoice_document(samples.uk_multi_rate(), seller=samples.UK_SELLER)
    data = _broken(document, vat_breakdown__2__taxable_amount=Decimal("25.00"))
    with pytest.raises(ValidationError, match=r"\[BR-Z-08\]"):
        InvoiceDocument.model_validate(data)


def test_a_credit_note_without_its_invoice_is_refused() -> None:
    invoice = samples.uk_standard()
    note = credit_note_document(
        samples.credit_note(invoice, 1_000, "CN-1"), invoice, seller=samples.UK_SELLER
    )
    with pytest.raises(ValidationError, match=r"\[BG-3\]"):
        InvoiceDocument.model_validate(_broken(note, preceding_invoice=None))


def test_amounts_with_more_than_two_decimals_are_refused() -> None:
    document = invoice_document(samples.uk_standard(), seller=samples.UK_SELLER)
    with pytest.raises(ValidationError, match="BR-DEC"):
        InvoiceDocument.model_validate(_broken(document, totals__prepaid=Decimal("1.005")))


def test_the_document_carries_the_stored_invoice_totals() -> None:
    invoice = samples.uk_standard()
    document = invoice_document(invoice, seller=samples.UK_SELLER)
    totals = document.totals
    assert totals.line_net_total * 100 == invoice.subtotal_minor
    assert totals.vat_total * 100 == invoice.tax_minor
    assert totals.total_with_vat * 100 == invoice.total_minor
    assert totals.prepaid == Decimal("100.00")  # customer credit applied: BT-113
    assert totals.amount_due * 100 == invoice.amount_due_minor
    assert document.order_reference == "PO-7781"
    assert [line.order_line_reference for line in document.lines] == ["1", None]
    assert [line.unit_code for line in document.lines] == ["HUR", "DAY"]


def test_reduced_and_standard_rates_are_both_category_s_with_their_own_breakdown() -> None:
    document = invoice_document(samples.uk_multi_rate(), seller=samples.UK_SELLER)
    assert [(b.category, b.rate) for b in document.vat_breakdown] == [
        (VatCategory.STANDARD, Decimal(20)),
        (VatCategory.STANDARD, Decimal(5)),
        (VatCategory.ZERO_RATED, Decimal(0)),
        (VatCategory.EXEMPT, Decimal(0)),
    ]
    exempt = document.vat_breakdown[3]
    assert exempt.taxable_amount == Decimal("400.00") and exempt.exemption_reason


def test_a_supply_taxed_by_two_components_cannot_be_an_en16931_invoice() -> None:
    quebec = samples.snapshot(
        region="CA-QC",
        currency="CAD",
        rates=[samples.CONSULTING],
        items=[BillableItem(rate_code="SNR", quantity=Decimal(1))],
    )
    with pytest.raises(UnsupportedDocument, match="GST 5.*QST 9.975"):
        invoice_document(quebec, seller=samples.CA_SELLER)


def test_a_zero_rated_quebec_invoice_can_be_written() -> None:
    quebec = samples.snapshot(
        region="CA-QC",
        currency="CAD",
        rates=[],
        explicit=[
            ExplicitLine(
                description="Exports", unit_price_minor=5_000, tax_category=TaxCategory.ZERO
            )
        ],  # fmt: skip
    )
    document = invoice_document(quebec, seller=samples.CA_SELLER)
    assert document.buyer.address.country_code == "CA"
    assert document.buyer.address.subdivision == "QC"


def test_a_currency_with_three_minor_digits_is_refused() -> None:
    kuwait = samples.snapshot(
        region="GB",
        currency="KWD",
        rates=[],
        explicit=[ExplicitLine(description="Fee", unit_price_minor=1_000)],
    )
    with pytest.raises(UnsupportedDocument, match="KWD"):
        invoice_document(kuwait, seller=samples.UK_SELLER)


def test_the_seller_from_settings_has_its_country_and_its_kind_of_tax_number() -> None:
    uk = seller_party(
        name="X Ltd", address="1 Street\nLondon\nUnited Kingdom", tax_id="GB1", email=None
    )
    assert (uk.address.lines, uk.address.country_code, uk.vat_id) == (
        ("1 Street", "London"),
        "GB",
        "GB1",
    )
    assert samples.AU_SELLER.vat_id is None
    assert samples.AU_SELLER.tax_registration_id == "51824753556"
    assert samples.AU_SELLER.legal_registration_id == "51824753556"
    with pytest.raises(UnsupportedDocument, match="country"):
        seller_party(name="X", address="1 Street", tax_id="12345", email=None)


@pytest.mark.parametrize(
    ("unit", "code"),
    [
        ("hour", "HUR"),
        ("Hours", "HUR"),
        ("day", "DAY"),
        ("unit", "C62"),
        ("piece", "C62"),
        ("request", "C62"),
        ("month", "MON"),
    ],  # fmt: skip
)
def test_units_map_to_un_ece_recommendation_20(unit: str, code: str) -> None:
    assert unit_code(unit) == code
