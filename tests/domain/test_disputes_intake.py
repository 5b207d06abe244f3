"""Tests for domain.disputes.intake: line grosses that add up, and what may be disputed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.disputes import (
    AcceptedIntake,
    DisputeRefused,
    InvoiceFigures,
    LineAmount,
    OpenDispute,
    check_intake,
    disputable_minor,
    line_gross_amounts,
)
from domain.invoicing import (
    ContractTerms,
    ExplicitLine,
    GeneratedInvoice,
    TaxLine,
    generate_invoice,
)
from domain.tax import TaxCategory

ISSUE = dt.date(2026, 3, 2)


def invoice_of(region: str, *lines: tuple[str, int, TaxCategory]) -> GeneratedInvoice:
    terms = ContractTerms(
        contract_id="c1", currency="GBP", tax_region=region, payment_terms_days=30, rates=[]
    )
    explicit = [
        ExplicitLine(
            description=desc,
            quantity=Decimal(1),
            unit_price_minor=price,
            tax_category=category,
        )
        for desc, price, category in lines
    ]
    return generate_invoice(terms, explicit_lines=explicit, issue_date=ISSUE)


# --- line grosses ----------------------------------------------------------------------


def test_line_grosses_share_rounded_tax_so_they_add_up_to_the_total() -> None:
    # three lines of 0.01 at 20%: the tax is 0.01 (0.006 rounded), one line carries it
    generated = invoice_of(
        "GB",
        ("a", 1, TaxCategory.STANDARD),
        ("b", 1, TaxCategory.STANDARD),
        ("c", 1, TaxCategory.STANDARD),
    )
    assert generated.total_minor == 4
    grosses = line_gross_amounts(generated.lines, generated.tax_lines)
    assert grosses == [
        LineAmount(position=1, gross_minor=2),  # ties go to the lower position
        LineAmount(position=2, gross_minor=1),
        LineAmount(position=3, gross_minor=1),
    ]


def test_line_grosses_follow_each_lines_category_and_every_component() -> None:
    # Quebec: GST 5% and QST 9.975% on the standard lines; the zero-rated line gets GST
    # at 0 and no QST
    generated = invoice_of(
        "CA-QC",
        ("consulting", 33_333, TaxCategory.STANDARD),
        ("licence", 66_667, TaxCategory.STANDARD),
        ("food", 10_000, TaxCategory.ZERO),
        ("exempt", 5_000, TaxCategory.EXEMPT),
    )
    grosses = line_gross_amounts(generated.lines, generated.tax_lines)
    by_position = {line.position: line.gross_minor for line in grosses}
    assert sum(by_position.values()) == generated.total_minor
    assert by_position[3] == 10_000
    assert by_position[4] == 5_000
    # 100_000 net: GST 5_000, QST 9_975; shared 1/3 : 2/3 by net
    assert by_position[1] == 33_333 + 1_667 + 3_325
    assert by_position[2] == 66_667 + 3_333 + 6_650


def test_line_grosses_refuse_a_tax_line_of_another_invoice() -> None:
    generated = invoice_of("GB", ("a", 1_000, TaxCategory.STANDARD))
    wrong = TaxLine(
        name="VAT",
        rate=Decimal("0.2"),
        category=TaxCategory.STANDARD,
        taxable_minor=2_000,
        tax_minor=400,
    )
    with pytest.raises(ValueError, match="add up to 1000"):
        line_gross_amounts(generated.lines, [wrong])


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10**9),
            st.sampled_from([TaxCategory.STANDARD, TaxCategory.REDUCED, TaxCategory.EXEMPT]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_line_grosses_always_add_up_to_the_total(lines: list[tuple[int, TaxCategory]]) -> None:
    generated = invoice_of("GB", *[(f"l{i}", p, c) for i, (p, c) in enumerate(lines)])
    grosses = line_gross_amounts(generated.lines, generated.tax_lines)
    assert sum(line.gross_minor for line in grosses) == generated.total_minor
    for line, gross in zip(generated.lines, grosses, strict=True):
        assert gross.gross_minor >= line.net_minor


# --- intake ----------------------------------------------------------------------------

# 3 lines: 100.00, 200.00, 50.00 gross; total 350.00
INVOICE = InvoiceFigures(
    currency="GBP",
    total_minor=35_000,
    lines=(
        LineAmount(position=1, gross_minor=10_000),
        LineAmount(position=2, gross_minor=20_000),
        LineAmount(position=3, gross_minor=5_000),
    ),
)


def refusal(
    invoice: InvoiceFigures,
    lines: list[int],
    amount: int | None,
    open_disputes: tuple[OpenDispute, ...] = (),
) -> DisputeRefused:
    with pytest.raises(DisputeRefused) as caught:
        check_intake(invoice, open_disputes, lines, amount)
    return caught.value


def test_a_dispute_of_named_lines_defaults_to_their_gross() -> None:
    assert check_intake(INVOICE, (), [3, 1], None) == AcceptedIntake(
        lines=(1, 3), amount_minor=15_000
    )


def test_a_dispute_without_lines_defaults_to_the_whole_disputable_balance() -> None:
    partly_paid = INVOICE.model_copy(update={"paid_minor": 5_000, "credited_minor": 1_000})
    assert check_intake(partly_paid, (), [], None) == AcceptedIntake(lines=(), amount_minor=29_000)


def test_a_named_amount_up_to_the_lines_gross_is_accepted() -> None:
    assert check_intake(INVOICE, (), [2], 7_500).amount_minor == 7_500


def test_unknown_lines_are_named() -> None:
    refused = refusal(INVOICE, [2, 7, 0], None)
    assert refused.code == "unknown_lines"
    assert refused.lines == (0, 7)
    assert "lines 0, 7" in refused.detail
    assert "1, 2, 3" in refused.detail


def test_a_line_named_twice_is_refused() -> None:
    refused = refusal(INVOICE, [1, 2, 1], None)
    assert (refused.code, refused.lines) == ("duplicate_lines", (1,))


def test_a_second_open_dispute_on_the_same_line_is_refused() -> None:
    other = OpenDispute(dispute_id="d1", number="DSP-2026-0001", lines=(2, 3), amount_minor=100)
    refused = refusal(INVOICE, [1, 3], None, (other,))
    assert refused.code == "lines_already_disputed"
    assert refused.lines == (3,)
    assert "DSP-2026-0001" in refused.detail


def test_a_whole_invoice_dispute_overlaps_every_line() -> None:
    whole = OpenDispute(dispute_id="d1", lines=(), amount_minor=100)
    refused = refusal(INVOICE, [1], None, (whole,))
    assert refused.code == "lines_already_disputed"
    assert "the whole invoice" in refused.detail
    assert "d1" in refused.detail  # the id when the dispute has no number yet


def test_a_whole_invoice_dispute_is_refused_while_any_dispute_is_open() -> None:
    other = OpenDispute(dispute_id="d1", lines=(2,), amount_minor=100)
    refused = refusal(INVOICE, [], None, (other,))
    assert (refused.code, refused.lines) == ("lines_already_disputed", (2,))


def test_other_lines_may_be_disputed_while_a_dispute_is_open() -> None:
    other = OpenDispute(dispute_id="d1", lines=(2,), amount_minor=20_000)
    assert check_intake(INVOICE, (other,), [1], None).amount_minor == 10_000


def test_other_open_disputes_amounts_reduce_what_can_be_disputed() -> None:
    other = OpenDispute(dispute_id="d1", lines=(2,), amount_minor=20_000)
    assert disputable_minor(INVOICE, (other,)) == 15_000
    refused = refusal(INVOICE, [1, 3], 15_001, (other,))
    assert refused.code == "amount_above_lines"  # the lines are 150.00 gross
    refused = refusal(INVOICE.model_copy(update={"paid_minor": 10_000}), [1, 3], 6_000, (other,))
    assert refused.code == "amount_above_balance"
    assert "GBP 60.00" in refused.detail and "GBP 50.00" in refused.detail
    assert "less GBP 200.00 in other open disputes" in refused.detail


def test_lines_worth_more_than_the_balance_need_a_named_amount() -> None:
    paid = INVOICE.model_copy(update={"paid_minor": 30_000})  # 50.00 left
    refused = refusal(paid, [2], None)
    assert refused.code == "amount_above_balance"
    assert "GBP 200.00" in refused.detail and "GBP 50.00" in refused.detail
    assert "name an amount" in refused.detail
    assert check_intake(paid, (), [2], 5_000).amount_minor == 5_000


def test_an_amount_above_the_open_balance_is_refused() -> None:
    refused = refusal(INVOICE, [], 35_001)
    assert refused.code == "amount_above_balance"
    assert "GBP 350.01" in refused.detail and "GBP 350.00" in refused.detail


def test_a_settled_invoice_has_nothing_to_dispute() -> None:
    settled = INVOICE.model_copy(update={"paid_minor": 30_000, "written_off_minor": 5_000})
    refused = refusal(settled, [1], None)
    assert refused.code == "nothing_to_dispute"
    assert "no open balance" in refused.detail


def test_a_balance_disputed_in_full_leaves_nothing_to_dispute() -> None:
    other = OpenDispute(dispute_id="d1", lines=(1,), amount_minor=35_000)
    refused = refusal(INVOICE, [2], None, (other,))
    assert refused.code == "nothing_to_dispute"
    assert "GBP 350.00 is disputed already" in refused.detail


def test_a_non_positive_amount_is_refused() -> None:
    assert refusal(INVOICE, [], 0).code == "invalid_amount"


def test_lines_of_zero_gross_need_a_named_amount() -> None:
    free = InvoiceFigures(
        currency="GBP",
        total_minor=1_000,
        lines=(LineAmount(position=1, gross_minor=0), LineAmount(position=2, gross_minor=1_000)),
    )
    assert refusal(free, [1], None).code == "invalid_amount"


def test_invoice_figures_refuse_a_position_twice() -> None:
    with pytest.raises(ValueError, match="unique"):
        InvoiceFigures(
            currency="GBP",
            total_minor=10,
            lines=(LineAmount(position=1, gross_minor=5), LineAmount(position=1, gross_minor=5)),
        )


def test_refusals_carry_code_and_message() -> None:
    refused = refusal(INVOICE, [9], None)
    assert refused.message == refused.detail == str(refused)
    assert repr(refused).startswith("DisputeRefused('unknown_lines'")
