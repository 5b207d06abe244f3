"""Tests for domain.invoicing: lines, tax lines, totals and every contract rule."""

from __future__ import annotations

import datetime as dt
import decimal
import random
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from domain import errors
from domain.errors import (
    CapExceeded,
    ContractExpired,
    ContractNotYetValid,
    CurrencyMismatch,
    EmptyInvoice,
    InvalidAmount,
    InvalidQuantity,
    InvoiceRuleError,
    UnknownRate,
    UnknownTaxRegion,
    UnsupportedCurrency,
    UnsupportedTaxCategory,
)
from domain.invoicing import (
    BillableItem,
    ContractTerms,
    ExplicitLine,
    GeneratedInvoice,
    Rate,
    generate_invoice,
)
from domain.money import round_minor
from domain.tax import SUPPORTED_REGIONS, TaxCategory

ISSUE = dt.date(2026, 1, 31)

RATES = [
    Rate(code="consult", description="Consulting", unit="hour", unit_price_minor=95000),
    Rate(code="support", description="Support", unit="hour", unit_price_minor=3333),
    Rate(
        code="fuel",
        description="Fuel",
        unit="litre",
        unit_price_minor=10000,
        tax_category=TaxCategory.REDUCED,
    ),
    Rate(code="export", description="Export", unit_price_minor=5000, tax_category=TaxCategory.ZERO),
    Rate(
        code="insure",
        description="Insurance",
        unit_price_minor=2000,
        tax_category=TaxCategory.EXEMPT,
    ),
]


def make_terms(**overrides: Any) -> ContractTerms:
    fields: dict[str, Any] = {
        "contract_id": "C-1",
        "currency": "GBP",
        "tax_region": "GB",
        "payment_terms_days": 30,
        "rates": RATES,
    }
    fields.update(overrides)
    return ContractTerms(**fields)


def one_line(price_minor: int, category: str = "standard") -> list[ExplicitLine]:
    line = ExplicitLine(
        description="Work", unit_price_minor=price_minor, tax_category=TaxCategory(category)
    )
    return [line]


def item(rate_code: str, quantity: str, **extra: Any) -> BillableItem:
    return BillableItem(rate_code=rate_code, quantity=Decimal(quantity), **extra)


def tax_pairs(invoice: GeneratedInvoice) -> list[tuple[str, int]]:
    return [(t.name, t.tax_minor) for t in invoice.tax_lines]


# --- known figures per region ------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "net", "taxes", "total"),
    [
        # GB 20% of 1,234.56 = 246.912 -> 246.91; total 1,481.47
        ("GB", 123456, [("VAT", 24691)], 148147),
        # CA-QC on 100.00: GST 5% = 5.00; QST 9.975% = 9.975 -> 9.98 (half up); 114.98
        ("CA-QC", 10000, [("GST", 500), ("QST", 998)], 11498),
        # CA-QC on 19.99: GST 0.9995 -> 1.00; QST 1.9940025 -> 1.99; 22.98
        ("CA-QC", 1999, [("GST", 100), ("QST", 199)], 2298),
        # CA-ON 13% of 100.00 = 13.00
        ("CA-ON", 10000, [("HST", 1300)], 11300),
        # CA-ON 13% of 123.45 = 16.0485 -> 16.05; 139.50
        ("CA-ON", 12345, [("HST", 1605)], 13950),
        # CA-NS 14% of 100.00 = 14.00 (15% before 2025-04-01)
        ("CA-NS", 10000, [("HST", 1400)], 11400),
        # CA-NS 14% of 50.25 = 7.035 -> 7.04; 57.29
        ("CA-NS", 5025, [("HST", 704)], 5729),
        # CA-NB / CA-PE 15% of 100.00 = 15.00
        ("CA-NB", 10000, [("HST", 1500)], 11500),
        ("CA-PE", 10000, [("HST", 1500)], 11500),
        # CA-NL 15% of 19.99 = 2.9985 -> 3.00
        ("CA-NL", 1999, [("HST", 300)], 2299),
        # CA-BC on 100.00: GST 5.00 + PST 7.00 (PST on the net, not on GST) = 112.00
        ("CA-BC", 10000, [("GST", 500), ("PST", 700)], 11200),
        # CA-BC on 10.10: GST 0.505 -> 0.51; PST 0.707 -> 0.71; 11.32
        ("CA-BC", 1010, [("GST", 51), ("PST", 71)], 1132),
        # CA-MB on 100.00: GST 5.00 + RST 7.00
        ("CA-MB", 10000, [("GST", 500), ("PST", 700)], 11200),
        # CA-SK on 12.50: GST 0.625 -> 0.63; PST 6% = 0.75; 13.88
        ("CA-SK", 1250, [("GST", 63), ("PST", 75)], 1388),
        # CA-AB 5% of 10.10 = 0.505 -> 0.51
        ("CA-AB", 1010, [("GST", 51)], 1061),
        ("CA-NT", 10000, [("GST", 500)], 10500),
        ("CA-NU", 10000, [("GST", 500)], 10500),
        ("CA-YT", 10000, [("GST", 500)], 10500),
        # AU 10% of 12.35 = 1.235 -> 1.24; 13.59
        ("AU", 1235, [("GST", 124)], 1359),
        # NZ 15% of 19.99 = 2.9985 -> 3.00; 22.99
        ("NZ", 1999, [("GST", 300)], 2299),
    ],
)
def test_known_tax_figures_per_region(
    region: str, net: int, taxes: list[tuple[str, int]], total: int
) -> None:
    currency = {"GB": "GBP", "AU": "AUD", "NZ": "NZD"}.get(region, "CAD")
    invoice = generate_invoice(
        make_terms(tax_region=region, currency=currency),
        explicit_lines=one_line(net),
        issue_date=ISSUE,
    )
    assert invoice.subtotal_minor == net
    assert tax_pairs(invoice) == taxes
    assert invoice.tax_minor == sum(tax for _, tax in taxes)
    assert invoice.total_minor == total
    assert all(t.taxable_minor == net for t in invoice.tax_lines)


# --- the rounding rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "unit_price", "net"),
    [
        ("1.5", 3333, 5000),  # 1.5 h x 33.33 = 49.995 -> 50.00
        ("1.5", 3331, 4997),  # 49.965 -> 49.97 (half-even would give 49.96)
        ("0.5", 1, 1),  # 0.005 -> 0.01 (half-even would give 0.00)
        ("2.5", 1, 3),  # 0.025 -> 0.03
        ("0.25", 2, 1),  # 0.005 -> 0.01
        ("0.3333", 3, 1),  # 0.009999 -> 0.01
        ("0.0001", 4999, 0),  # 0.004999 -> 0.00
        ("0.0001", 5000, 1),  # 0.005 -> 0.01
        ("7.75", 12000, 93000),  # exact
        ("1.50000", 3331, 4997),  # trailing zeros are not extra decimal places
    ],
)
def test_line_net_is_quantity_times_price_rounded_half_up(
    quantity: str, unit_price: int, net: int
) -> None:
    line = ExplicitLine(description="x", quantity=Decimal(quantity), unit_price_minor=unit_price)
    invoice = generate_invoice(make_terms(), explicit_lines=[line], issue_date=ISSUE)
    assert invoice.lines[0].net_minor == net
    assert invoice.subtotal_minor == net


def test_line_nets_are_rounded_per_line_before_summing() -> None:
    # Each 1.5 h x 33.31 = 49.965 -> 49.97, so 99.94; rounding the sum (99.93) would differ.
    rates = [Rate(code="s", description="S", unit_price_minor=3331)]
    invoice = generate_invoice(
        make_terms(rates=rates),
        items=[item("s", "1.5"), item("s", "1.5")],
        issue_date=ISSUE,
    )
    assert [line.net_minor for line in invoice.lines] == [4997, 4997]
    assert invoice.subtotal_minor == 9994


def test_tax_is_rounded_once_per_component_on_the_category_sum() -> None:
    # Three lines of 0.01: per-line VAT would be 0.002 -> 0.00 each; on the sum 0.03 it is
    # 0.006 -> 0.01.
    invoice = generate_invoice(make_terms(), explicit_lines=one_line(1) * 3, issue_date=ISSUE)
    assert [(t.taxable_minor, t.tax_minor) for t in invoice.tax_lines] == [(3, 1)]
    assert invoice.total_minor == 4


@pytest.mark.parametrize(
    ("net", "vat"),
    [
        (10, 1),  # 5% of 0.10 = 0.005 -> 0.01
        (30, 2),  # 0.015 -> 0.02
        (50, 3),  # 0.025 -> 0.03 (half-even would give 0.02)
        (70, 4),  # 0.035 -> 0.04
        (69, 3),  # 0.0345 -> 0.03
    ],
)
def test_tax_rounds_half_up_at_the_boundary(net: int, vat: int) -> None:
    invoice = generate_invoice(
        make_terms(), explicit_lines=one_line(net, "reduced"), issue_date=ISSUE
    )
    assert tax_pairs(invoice) == [("VAT", vat)]


def test_result_does_not_depend_on_the_callers_decimal_context() -> None:
    def run() -> GeneratedInvoice:
        return generate_invoice(
            make_terms(tax_region="CA-QC", currency="CAD"),
            items=[item("support", "1.5"), item("consult", "123.4567")],
            issue_date=ISSUE,
        )

    expected = run()
    with decimal.localcontext(prec=2, rounding=decimal.ROUND_HALF_EVEN):
        assert run() == expected


# --- lines, categories, dates ------------------------------------------------------------


def test_items_come_first_in_order_then_explicit_lines() -> None:
    invoice = generate_invoice(
        make_terms(),
        explicit_lines=[ExplicitLine(description="Travel", unit_price_minor=4550)],
        items=[
            item("consult", "2", service_date=dt.date(2026, 1, 5)),
            item("support", "1", description="Support, January", kind="usage"),
        ],
        issue_date=ISSUE,
    )
    summary = [
        (ln.position, ln.description, ln.unit, ln.unit_price_minor, ln.net_minor, ln.rate_code)
        for ln in invoice.lines
    ]
    assert summary == [
        (1, "Consulting", "hour", 95000, 190000, "consult"),
        (2, "Support, January", "hour", 3333, 3333, "support"),
        (3, "Travel", "unit", 4550, 4550, None),
    ]
    assert invoice.lines[0].quantity == Decimal("2")
    assert invoice.lines[0].tax_category is TaxCategory.STANDARD
    # 1,900.00 + 33.33 + 45.50 = 1,978.83; VAT 395.766 -> 395.77; total 2,374.60
    assert invoice.subtotal_minor == 197883
    assert tax_pairs(invoice) == [("VAT", 39577)]
    assert invoice.total_minor == 237460


def test_line_takes_the_tax_category_of_its_rate() -> None:
    invoice = generate_invoice(
        make_terms(), items=[item("fuel", "1"), item("export", "1")], issue_date=ISSUE
    )
    assert [ln.tax_category for ln in invoice.lines] == [TaxCategory.REDUCED, TaxCategory.ZERO]


def test_zero_rated_lines_get_a_zero_tax_line_and_exempt_lines_none() -> None:
    invoice = generate_invoice(
        make_terms(),
        items=[item("consult", "0.1"), item("export", "1"), item("insure", "1")],
        issue_date=ISSUE,
    )
    # standard 95.00 -> VAT 19.00; zero 50.00 -> VAT 0.00; exempt 20.00 -> no tax line
    assert [
        (t.name, t.rate, t.category, t.taxable_minor, t.tax_minor) for t in invoice.tax_lines
    ] == [
        ("VAT", Decimal("0.20"), TaxCategory.STANDARD, 9500, 1900),
        ("VAT", Decimal(0), TaxCategory.ZERO, 5000, 0),
    ]
    assert invoice.subtotal_minor == 16500
    assert invoice.total_minor == 18400


def test_standard_and_reduced_lines_are_taxed_separately() -> None:
    invoice = generate_invoice(
        make_terms(),
        explicit_lines=[*one_line(10000, "reduced"), *one_line(10000), *one_line(999, "reduced")],
        issue_date=ISSUE,
    )
    # standard 100.00 -> 20.00; reduced 109.99 -> 5.4995 -> 5.50; tax lines in category order
    assert [(t.category, t.taxable_minor, t.tax_minor) for t in invoice.tax_lines] == [
        (TaxCategory.STANDARD, 10000, 2000),
        (TaxCategory.REDUCED, 10999, 550),
    ]
    assert invoice.total_minor == 20999 + 2550


def test_only_exempt_lines_means_no_tax() -> None:
    invoice = generate_invoice(
        make_terms(tax_region="CA-QC", currency="CAD"),
        explicit_lines=one_line(12345, "exempt"),
        issue_date=ISSUE,
    )
    assert invoice.tax_lines == []
    assert invoice.tax_minor == 0
    assert invoice.total_minor == 12345


def test_zero_rated_in_canada_with_pst_shows_only_gst_at_zero() -> None:
    invoice = generate_invoice(
        make_terms(tax_region="CA-BC", currency="CAD"),
        explicit_lines=one_line(10000, "zero"),
        issue_date=ISSUE,
    )
    assert tax_pairs(invoice) == [("GST", 0)]
    assert invoice.total_minor == 10000


def test_jpy_has_no_minor_digits() -> None:
    rates = [Rate(code="h", description="Hour", unit_price_minor=1500)]
    invoice = generate_invoice(
        make_terms(currency="JPY", rates=rates, cap_minor=100000),
        items=[item("h", "2.5")],  # 3,750 yen
        explicit_lines=[
            ExplicitLine(description="Fee", quantity=Decimal("0.5"), unit_price_minor=3)
        ],
        issue_date=ISSUE,
    )
    # 0.5 x 3 yen = 1.5 -> 2 yen; subtotal 3,752; VAT 750.4 -> 750; total 4,502
    assert [ln.net_minor for ln in invoice.lines] == [3750, 2]
    assert invoice.subtotal_minor == 3752
    assert tax_pairs(invoice) == [("VAT", 750)]
    assert invoice.total_minor == 4502
    assert invoice.currency == "JPY"


def test_jpy_cap_message_has_no_decimals() -> None:
    rates = [Rate(code="h", description="Hour", unit_price_minor=1500)]
    with pytest.raises(CapExceeded) as excinfo:
        generate_invoice(
            make_terms(currency="JPY", rates=rates, cap_minor=1000),
            items=[item("h", "1")],
            issue_date=ISSUE,
        )
    assert "JPY 1,000" in excinfo.value.detail
    assert "JPY 1,500" in excinfo.value.detail


@pytest.mark.parametrize(
    ("days", "due"),
    [(30, dt.date(2026, 3, 2)), (0, ISSUE), (1, dt.date(2026, 2, 1)), (365, dt.date(2027, 1, 31))],
)
def test_due_date_is_issue_date_plus_payment_terms(days: int, due: dt.date) -> None:
    invoice = generate_invoice(
        make_terms(payment_terms_days=days), explicit_lines=one_line(100), issue_date=ISSUE
    )
    assert invoice.issue_date == ISSUE
    assert invoice.due_date == due


def test_invoice_carries_contract_currency_and_region() -> None:
    invoice = generate_invoice(
        make_terms(tax_region="NZ", currency="NZD"),
        explicit_lines=one_line(100),
        issue_date=ISSUE,
        currency="NZD",
    )
    assert (invoice.currency, invoice.tax_region) == ("NZD", "NZ")


# --- rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.ContractNotYetValid, "contract_not_yet_valid"),
        (errors.ContractExpired, "contract_expired"),
        (errors.UnknownRate, "unknown_rate"),
        (errors.CapExceeded, "cap_exceeded"),
        (errors.CurrencyMismatch, "currency_mismatch"),
        (errors.InvalidQuantity, "invalid_quantity"),
        (errors.InvalidAmount, "invalid_amount"),
        (errors.EmptyInvoice, "empty_invoice"),
        (errors.UnknownTaxRegion, "unknown_tax_region"),
        (errors.UnsupportedTaxCategory, "unsupported_tax_category"),
        (errors.UnsupportedCurrency, "unsupported_currency"),
    ],
)
def test_each_rule_error_has_its_code_and_detail(error: type[InvoiceRuleError], code: str) -> None:
    err = error("the detail")
    assert isinstance(err, InvoiceRuleError)
    assert err.code == code
    assert err.detail == "the detail"
    assert str(err) == "the detail"


def test_currency_other_than_the_contracts_is_a_mismatch() -> None:
    with pytest.raises(CurrencyMismatch) as excinfo:
        generate_invoice(
            make_terms(), explicit_lines=one_line(100), issue_date=ISSUE, currency="EUR"
        )
    assert "'EUR'" in excinfo.value.detail and "'GBP'" in excinfo.value.detail


def test_contract_in_unsupported_currency_is_refused() -> None:
    with pytest.raises(UnsupportedCurrency):
        generate_invoice(make_terms(currency="XYZ"), explicit_lines=one_line(100), issue_date=ISSUE)


def test_contract_in_unknown_tax_region_is_refused_even_for_exempt_lines() -> None:
    with pytest.raises(UnknownTaxRegion) as excinfo:
        generate_invoice(
            make_terms(tax_region="CA"),
            explicit_lines=one_line(100, "exempt"),
            issue_date=ISSUE,
        )
    assert "'CA'" in excinfo.value.detail


def test_issue_before_valid_from_is_not_yet_valid() -> None:
    terms = make_terms(valid_from=dt.date(2026, 2, 1))
    with pytest.raises(ContractNotYetValid) as excinfo:
        generate_invoice(terms, explicit_lines=one_line(100), issue_date=dt.date(2026, 1, 31))
    assert "2026-02-01" in excinfo.value.detail and "2026-01-31" in excinfo.value.detail


def test_issue_after_valid_to_is_expired() -> None:
    terms = make_terms(valid_to=dt.date(2026, 12, 31))
    with pytest.raises(ContractExpired) as excinfo:
        generate_invoice(terms, explicit_lines=one_line(100), issue_date=dt.date(2027, 1, 1))
    assert "2026-12-31" in excinfo.value.detail and "2027-01-01" in excinfo.value.detail


def test_validity_dates_are_inclusive() -> None:
    terms = make_terms(valid_from=dt.date(2026, 1, 1), valid_to=dt.date(2026, 12, 31))
    for day in (dt.date(2026, 1, 1), dt.date(2026, 12, 31)):
        assert generate_invoice(terms, explicit_lines=one_line(100), issue_date=day)


def test_datetime_issue_date_is_refused() -> None:
    with pytest.raises(TypeError):
        generate_invoice(
            make_terms(),
            explicit_lines=one_line(100),
            issue_date=dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.UTC),
        )


def test_unknown_rate_names_the_code_and_the_contracts_codes() -> None:
    with pytest.raises(UnknownRate) as excinfo:
        generate_invoice(make_terms(), items=[item("nope", "1")], issue_date=ISSUE)
    detail = excinfo.value.detail
    assert "'nope'" in detail
    for code in ("consult", "support", "fuel", "export", "insure"):
        assert repr(code) in detail


@pytest.mark.parametrize("quantity", ["0", "-1", "-0.5", "0.00001", "1.23456"])
def test_bad_quantity_on_an_item_is_refused(quantity: str) -> None:
    with pytest.raises(InvalidQuantity) as excinfo:
        generate_invoice(make_terms(), items=[item("consult", quantity)], issue_date=ISSUE)
    assert quantity in excinfo.value.detail


@pytest.mark.parametrize("quantity", ["0", "-2", "0.12345"])
def test_bad_quantity_on_an_explicit_line_is_refused(quantity: str) -> None:
    line = ExplicitLine(description="x", quantity=Decimal(quantity), unit_price_minor=100)
    with pytest.raises(InvalidQuantity) as excinfo:
        generate_invoice(make_terms(), explicit_lines=[line], issue_date=ISSUE)
    assert quantity in excinfo.value.detail


@pytest.mark.parametrize("quantity", ["NaN", "Infinity"])
def test_non_finite_quantity_is_refused(quantity: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        BillableItem(rate_code="consult", quantity=Decimal(quantity))
    # Even if validation was bypassed, the calculator refuses it.
    bypassed = BillableItem.model_construct(rate_code="consult", quantity=Decimal(quantity))
    with pytest.raises(InvalidQuantity):
        generate_invoice(make_terms(), items=[bypassed], issue_date=ISSUE)


def test_four_decimal_places_are_allowed() -> None:
    invoice = generate_invoice(make_terms(), items=[item("consult", "0.0001")], issue_date=ISSUE)
    assert invoice.lines[0].net_minor == 10  # 0.0001 x 95,000 = 9.5 -> 10


def test_negative_unit_price_on_an_explicit_line_is_refused() -> None:
    with pytest.raises(InvalidAmount) as excinfo:
        generate_invoice(make_terms(), explicit_lines=one_line(-100), issue_date=ISSUE)
    assert "-100" in excinfo.value.detail


def test_negative_rate_price_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        Rate(code="x", description="X", unit_price_minor=-1)
    bypassed = Rate.model_construct(
        code="x", description="X", unit="unit", unit_price_minor=-1, tax_category="standard"
    )
    terms = make_terms(rates=[bypassed])
    with pytest.raises(InvalidAmount):
        generate_invoice(terms, items=[item("x", "1")], issue_date=ISSUE)


def test_no_items_and_no_lines_is_an_empty_invoice() -> None:
    with pytest.raises(EmptyInvoice) as excinfo:
        generate_invoice(make_terms(), issue_date=ISSUE)
    assert "'C-1'" in excinfo.value.detail


def test_category_without_a_rate_in_the_region_is_refused() -> None:
    with pytest.raises(UnsupportedTaxCategory):
        generate_invoice(
            make_terms(tax_region="AU", currency="AUD"),
            items=[item("fuel", "1")],
            issue_date=ISSUE,
        )


def test_free_lines_are_allowed() -> None:
    invoice = generate_invoice(make_terms(), explicit_lines=one_line(0), issue_date=ISSUE)
    assert (invoice.subtotal_minor, invoice.total_minor) == (0, 0)


# --- the cap -----------------------------------------------------------------------------


def test_cap_exceeded_names_cap_already_invoiced_and_subtotal() -> None:
    terms = make_terms(cap_minor=100000, already_invoiced_minor=90000)
    with pytest.raises(CapExceeded) as excinfo:
        generate_invoice(terms, explicit_lines=one_line(15000), issue_date=ISSUE)
    detail = excinfo.value.detail
    assert "GBP 1,000.00" in detail  # the cap
    assert "GBP 900.00" in detail  # already invoiced
    assert "GBP 150.00" in detail  # this invoice's subtotal
    assert "GBP 50.00" in detail  # how far over


def test_reaching_the_cap_exactly_is_allowed() -> None:
    terms = make_terms(cap_minor=100000, already_invoiced_minor=90000)
    invoice = generate_invoice(terms, explicit_lines=one_line(10000), issue_date=ISSUE)
    assert invoice.subtotal_minor == 10000


def test_cap_is_cumulative_across_invoices() -> None:
    first = generate_invoice(
        make_terms(cap_minor=100000), explicit_lines=one_line(60000), issue_date=ISSUE
    )
    second_terms = make_terms(cap_minor=100000, already_invoiced_minor=first.subtotal_minor)
    with pytest.raises(CapExceeded):
        generate_invoice(second_terms, explicit_lines=one_line(60000), issue_date=ISSUE)
    assert generate_invoice(second_terms, explicit_lines=one_line(40000), issue_date=ISSUE)


def test_cap_applies_to_the_net_subtotal_not_the_total_with_tax() -> None:
    invoice = generate_invoice(
        make_terms(cap_minor=10000), explicit_lines=one_line(10000), issue_date=ISSUE
    )
    assert invoice.total_minor == 12000  # over the cap with VAT, and still allowed


def test_cap_counts_the_rounded_line_nets() -> None:
    # 1.5 x 33.31 = 49.965 -> 49.97: a cap of 49.96 is exceeded by the rounded net.
    rates = [Rate(code="s", description="S", unit_price_minor=3331)]
    with pytest.raises(CapExceeded):
        generate_invoice(
            make_terms(rates=rates, cap_minor=4996), items=[item("s", "1.5")], issue_date=ISSUE
        )


# --- contract terms ----------------------------------------------------------------------


def test_contract_rate_codes_must_be_unique() -> None:
    with pytest.raises(pydantic.ValidationError, match="consult"):
        make_terms(rates=[RATES[0], RATES[0]])


def test_contract_validity_must_not_end_before_it_starts() -> None:
    with pytest.raises(pydantic.ValidationError):
        make_terms(valid_from=dt.date(2026, 2, 1), valid_to=dt.date(2026, 1, 1))


# --- property: totals always add up -----------------------------------------------------


def _random_quantity(rng: random.Random) -> Decimal:
    places = rng.randint(0, 4)
    units = rng.randint(1, 10**6)
    return Decimal(units).scaleb(-places)


def _random_category(rng: random.Random, region: str) -> TaxCategory:
    categories = [TaxCategory.STANDARD, TaxCategory.ZERO, TaxCategory.EXEMPT]
    if region == "GB":
        categories.append(TaxCategory.REDUCED)
    return rng.choice(categories)


def test_totals_add_up_on_generated_invoices() -> None:
    rng = random.Random(42)
    regions = sorted(SUPPORTED_REGIONS)
    for _ in range(400):
        region = rng.choice(regions)
        rates = [
            Rate(
                code=f"r{i}",
                description=f"Rate {i}",
                unit_price_minor=rng.randint(0, 10**6),
                tax_category=_random_category(rng, region),
            )
            for i in range(rng.randint(1, 4))
        ]
        items = [
            BillableItem(rate_code=rng.choice(rates).code, quantity=_random_quantity(rng))
            for _ in range(rng.randint(0, 6))
        ]
        lines = [
            ExplicitLine(
                description="x",
                quantity=_random_quantity(rng),
                unit_price_minor=rng.randint(0, 10**7),
                tax_category=_random_category(rng, region),
            )
            for _ in range(rng.randint(0 if items else 1, 4))
        ]
        terms = make_terms(tax_region=region, currency="CAD", rates=rates)
        invoice = generate_invoice(terms, items=items, explicit_lines=lines, issue_date=ISSUE)

        assert [ln.position for ln in invoice.lines] == list(range(1, len(items) + len(lines) + 1))
        assert invoice.subtotal_minor == sum(ln.net_minor for ln in invoice.lines)
        assert invoice.tax_minor == sum(t.tax_minor for t in invoice.tax_lines)
        assert invoice.total_minor == invoice.subtotal_minor + invoice.tax_minor
        for ln in invoice.lines:
            assert abs(Decimal(ln.net_minor) - ln.quantity * ln.unit_price_minor) <= Decimal("0.5")
        for t in invoice.tax_lines:
            assert t.taxable_minor == sum(
                ln.net_minor for ln in invoice.lines if ln.tax_category == t.category
            )
            assert t.tax_minor == round_minor(Decimal(t.taxable_minor) * t.rate)


def test_quantities_amounts_and_dates_no_invoice_has_are_refused_before_any_overflow() -> None:
    with pytest.raises(InvalidQuantity):
        generate_invoice(make_terms(), items=[item("consult", "1E+70")], issue_date=ISSUE)
    with pytest.raises(errors.InvalidAmount):
        generate_invoice(make_terms(), explicit_lines=one_line(10**15 + 1), issue_date=ISSUE)
    # each line within the limit, the total over it
    line = ExplicitLine(description="x", quantity=Decimal(1000), unit_price_minor=10**13)
    with pytest.raises(errors.InvalidAmount) as total:
        generate_invoice(make_terms(), explicit_lines=[line], issue_date=ISSUE)
    assert "invoice total" in total.value.detail
    for day in (dt.date(1999, 12, 31), dt.date(9999, 12, 31)):
        with pytest.raises(errors.InvalidIssueDate):
            generate_invoice(make_terms(), explicit_lines=one_line(100), issue_date=day)


def test_the_largest_accepted_amounts_still_make_an_invoice() -> None:
    line = ExplicitLine(description="x", quantity=Decimal(1), unit_price_minor=800_000_000_000_000)
    invoice = generate_invoice(make_terms(), explicit_lines=[line], issue_date=ISSUE)
    assert invoice.total_minor <= 10**15
