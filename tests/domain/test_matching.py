"""Tests for domain.matching: the PO matcher (match_invoice) and the duplicate check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from domain.matching import (
    Consumption,
    InvoiceToMatch,
    LineToMatch,
    MatchMode,
    MatchOutcome,
    MatchReasonCode,
    MatchResult,
    POStatus,
    PurchaseOrderLine,
    PurchaseOrderSnapshot,
    RecentInvoice,
    Tolerances,
    invoice_line_keys,
    line_key,
    match_invoice,
    possible_duplicates,
)
from domain.money import round_minor

Code = MatchReasonCode
ISSUED = dt.date(2026, 6, 1)
EXACT = Tolerances()


def po_line(
    number: int = 1,
    code: str = "WIDGET",
    quantity: str = "10",
    price: int = 10000,
    unit: str = "each",
    **fields: Any,
) -> PurchaseOrderLine:
    return PurchaseOrderLine(
        line_number=number,
        item_code=code,
        description=f"{code} description",
        quantity=Decimal(quantity),
        unit=unit,
        unit_price_minor=price,
        **fields,
    )


def make_po(*lines: PurchaseOrderLine, **fields: Any) -> PurchaseOrderSnapshot:
    values: dict[str, Any] = {
        "po_id": "po_1",
        "number": "PO-1",
        "customer_id": "cus_1",
        "currency": "GBP",
        "status": POStatus.OPEN,
        "match_mode": MatchMode.TWO_WAY,
        "lines": lines or (po_line(),),
    }
    values.update(fields)
    return PurchaseOrderSnapshot(**values)


def inv_line(
    position: int = 1,
    code: str | None = "WIDGET",
    quantity: str = "10",
    price: int = 10000,
    unit: str = "each",
    po_line: int | None = None,
    description: str = "Widgets",
) -> LineToMatch:
    return LineToMatch(
        position=position,
        item_code=code,
        description=description,
        quantity=Decimal(quantity),
        unit=unit,
        unit_price_minor=price,
        net_minor=round_minor(Decimal(quantity) * price),
        po_line=po_line,
    )


def make_invoice(*lines: LineToMatch, **fields: Any) -> InvoiceToMatch:
    lines = lines or (inv_line(),)
    net = sum(line.net_minor for line in lines)
    values: dict[str, Any] = {
        "invoice_id": "inv_new",
        "customer_id": "cus_1",
        "currency": "GBP",
        "issue_date": ISSUED,
        "po_number": "PO-1",
        "po_required": True,
        "lines": lines,
        "net_minor": net,
        "total_minor": round_minor(Decimal(net) * Decimal("1.2")),
    }
    values.update(fields)
    return InvoiceToMatch(**values)


def match(
    invoice: InvoiceToMatch,
    po: PurchaseOrderSnapshot | None,
    tolerances: Tolerances = EXACT,
    **options: Any,
) -> MatchResult:
    return match_invoice(invoice, po, tolerances=tolerances, **options)


def price_result(price: int, tolerances: Tolerances, po_price: int = 10000) -> MatchResult:
    """One line of 1 unit at `price` against a PO line at `po_price`, totals out of play."""
    order = make_po(po_line(quantity="1", price=po_price))
    generous_total = tolerances.overridden(Tolerances(total_over_pct=Decimal(100)))
    return match(make_invoice(inv_line(quantity="1", price=price)), order, generous_total)


# --- tolerance boundaries -----------------------------------------------------------------

PCT_1 = Tolerances(price_over_pct=Decimal(1))
OVER_50 = Tolerances(price_over_minor=50)
UNDER_PCT_2 = Tolerances(price_under_pct=Decimal(2))
UNDER_30 = Tolerances(price_under_minor=30)


@pytest.mark.parametrize(
    ("tolerances", "price", "passes"),
    [
        # over, percent: 1% of 100.00 is 1.00
        (PCT_1, 10100, True),
        (PCT_1, 10101, False),
        # over, absolute
        (OVER_50, 10050, True),
        (OVER_50, 10051, False),
        # both set: the stricter wins, whichever it is
        (Tolerances(price_over_pct=Decimal(1), price_over_minor=50), 10050, True),
        (Tolerances(price_over_pct=Decimal(1), price_over_minor=50), 10051, False),
        (Tolerances(price_over_pct=Decimal("0.4"), price_over_minor=50), 10040, True),
        (Tolerances(price_over_pct=Decimal("0.4"), price_over_minor=50), 10041, False),
        # under, percent and absolute
        (UNDER_PCT_2, 9800, True),
        (UNDER_PCT_2, 9799, False),
        (UNDER_30, 9970, True),
        (UNDER_30, 9969, False),
        (Tolerances(price_under_pct=Decimal(2), price_under_minor=30), 9970, True),
        (Tolerances(price_under_pct=Decimal(2), price_under_minor=30), 9969, False),
        # a side with no limit set allows no variance, whatever the other side allows
        (PCT_1, 9999, False),
        (OVER_50, 9999, False),
        (UNDER_PCT_2, 10001, False),
        (EXACT, 10001, False),
        (EXACT, 9999, False),
        # a zero limit is set, and allows nothing either
        (Tolerances(price_over_minor=0), 10001, False),
    ],
)
def test_price_tolerance_boundaries(tolerances: Tolerances, price: int, passes: bool) -> None:
    result = price_result(price, tolerances)
    if passes:
        assert result.outcome is MatchOutcome.MATCHED_WITH_VARIANCE
        assert [v.kind for v in result.variances] == ["price"]
        assert result.variances[0].variance_minor == price - 10000
    else:
        assert result.outcome is MatchOutcome.EXCEPTION
        assert result.codes == (Code.PRICE_VARIANCE,)
        assert result.variances == ()


@pytest.mark.parametrize(
    ("po_price", "pct", "last_passing"),
    [
        (1050, "1", 1061),  # 10.5 minor units: half away from zero makes 11
        (1050, "1.5", 1066),  # 15.75 -> 16
        (1049, "1", 1059),  # 10.49 -> 10
    ],
)
def test_a_percent_limit_is_rounded_to_minor_units_half_away_from_zero(
    po_price: int, pct: str, last_passing: int
) -> None:
    tolerances = Tolerances(price_over_pct=Decimal(pct))
    at_limit = price_result(last_passing, tolerances, po_price)
    one_over = price_result(last_passing + 1, tolerances, po_price)
    assert at_limit.outcome is MatchOutcome.MATCHED_WITH_VARIANCE
    assert one_over.codes == (Code.PRICE_VARIANCE,)


def test_exact_price_and_quantity_match_without_variance() -> None:
    result = price_result(10000, EXACT)
    assert result.outcome is MatchOutcome.MATCHED
    assert result.variances == ()
    assert result.consumption == (Consumption(po_line=1, quantity=Decimal(1), amount_minor=10000),)


def test_a_price_variance_within_tolerance_is_recorded_with_its_size() -> None:
    result = price_result(10075, PCT_1)
    (variance,) = result.variances
    assert (variance.position, variance.po_line, variance.kind) == (1, 1, "price")
    assert (variance.expected, variance.actual) == ("GBP 100.00", "GBP 100.75")
    assert variance.variance_minor == 75
    assert variance.variance_pct == Decimal("0.75")


def test_a_price_reason_says_what_was_expected_in_a_sentence() -> None:
    order = make_po(po_line(1, "A", price=10000), po_line(2, "B", price=10000))
    invoice = make_invoice(
        inv_line(1, "A", quantity="1"), inv_line(2, "B", quantity="1", price=10500)
    )
    result = match(invoice, order, Tolerances(price_over_minor=100))
    (reason,) = result.reasons
    assert (
        reason.detail
        == "line 2: unit price GBP 105.00 is 5.00 over the PO's 100.00 (tolerance 1.00)"
    )
    assert (reason.position, reason.po_line) == (2, 2)
    assert (reason.expected, reason.actual) == ("GBP 100.00", "GBP 105.00")


def test_a_price_reason_without_any_tolerance_says_so() -> None:
    (reason,) = price_result(9900, EXACT).reasons
    assert (
        reason.detail == "line 1: unit price GBP 99.00 is 1.00 under the PO's 100.00 (no tolerance)"
    )


# --- quantities ---------------------------------------------------------------------------


def quantity_result(
    quantity: str,
    *,
    mode: MatchMode = MatchMode.TWO_WAY,
    pct: str | None = None,
    ordered: str = "10",
    invoiced: str = "0",
    received: str = "0",
    allow_over_delivery: bool = False,
) -> MatchResult:
    order = make_po(
        po_line(
            quantity=ordered,
            invoiced_quantity=Decimal(invoiced),
            received_quantity=Decimal(received),
            allow_over_delivery=allow_over_delivery,
        ),
        match_mode=mode,
    )
    tolerances = Tolerances(
        quantity_over_pct=None if pct is None else Decimal(pct), total_over_pct=Decimal(100)
    )
    return match(make_invoice(inv_line(quantity=quantity)), order, tolerances)


@pytest.mark.parametrize(
    ("quantity", "options", "outcome", "codes"),
    [
        # 2-way: ordered 10, 2 invoiced before: 8 left
        ("8", {"invoiced": "2"}, MatchOutcome.MATCHED, ()),
        ("8.0001", {"invoiced": "2"}, MatchOutcome.EXCEPTION, (Code.QUANTITY_OVER_ORDERED,)),
        # 10% of the ordered 10 on top
        ("9", {"invoiced": "2", "pct": "10"}, MatchOutcome.MATCHED_WITH_VARIANCE, ()),
        (
            "9.0001",
            {"invoiced": "2", "pct": "10"},
            MatchOutcome.EXCEPTION,
            (Code.QUANTITY_OVER_ORDERED,),
        ),
        # 3-way: received 6 of 10, 2 invoiced: 4 left; 10% of the received 6 on top
        (
            "4",
            {"mode": MatchMode.THREE_WAY, "invoiced": "2", "received": "6"},
            MatchOutcome.MATCHED,
            (),
        ),
        (
            "4.6",
            {"mode": MatchMode.THREE_WAY, "invoiced": "2", "received": "6", "pct": "10"},
            MatchOutcome.MATCHED_WITH_VARIANCE,
            (),
        ),
        (
            "4.6001",
            {"mode": MatchMode.THREE_WAY, "invoiced": "2", "received": "6", "pct": "10"},
            MatchOutcome.EXCEPTION,
            (Code.QUANTITY_OVER_RECEIVED,),
        ),
        # 3-way over both the order and the delivery
        (
            "11",
            {"mode": MatchMode.THREE_WAY, "received": "6"},
            MatchOutcome.EXCEPTION,
            (Code.QUANTITY_OVER_ORDERED, Code.QUANTITY_OVER_RECEIVED),
        ),
        # 3-way: received more than ordered does not lift the order's limit
        (
            "10.5",
            {"mode": MatchMode.THREE_WAY, "received": "12"},
            MatchOutcome.EXCEPTION,
            (Code.QUANTITY_OVER_ORDERED,),
        ),
        # ... unless the line allows over-delivery: then what was received bounds it
        (
            "12",
            {"mode": MatchMode.THREE_WAY, "received": "12", "allow_over_delivery": True},
            MatchOutcome.MATCHED,
            (),
        ),
        (
            "12.0001",
            {"mode": MatchMode.THREE_WAY, "received": "12", "allow_over_delivery": True},
            MatchOutcome.EXCEPTION,
            (Code.QUANTITY_OVER_RECEIVED,),
        ),
        # 2-way the flag changes nothing: nothing received bounds the line
        (
            "10.0001",
            {"allow_over_delivery": True},
            MatchOutcome.EXCEPTION,
            (Code.QUANTITY_OVER_ORDERED,),
        ),
        # nothing received yet, 3-way: nothing may be billed
        (
            "1",
            {"mode": MatchMode.THREE_WAY, "pct": "50"},
            MatchOutcome.EXCEPTION,
            (Code.QUANTITY_OVER_RECEIVED,),
        ),
    ],
)
def test_quantity_boundaries(
    quantity: str, options: dict[str, Any], outcome: MatchOutcome, codes: tuple[Code, ...]
) -> None:
    result = quantity_result(quantity, **options)
    assert result.outcome is outcome
    assert result.codes == codes


def test_a_quantity_variance_within_tolerance_is_recorded_against_what_was_left() -> None:
    result = quantity_result("9", invoiced="2", pct="10")
    (variance,) = result.variances
    assert (variance.kind, variance.expected, variance.actual) == ("quantity", "8", "9")
    assert variance.variance_minor == 0
    assert variance.variance_pct == Decimal("10.00")  # 1 over, of the 10 ordered
    assert result.consumption == (Consumption(po_line=1, quantity=Decimal(9), amount_minor=90000),)


def test_3_way_over_received_names_the_delivery_in_its_reason() -> None:
    result = quantity_result("5", mode=MatchMode.THREE_WAY, invoiced="2", received="6")
    (reason,) = result.reasons
    assert reason.code is Code.QUANTITY_OVER_RECEIVED
    assert (
        reason.detail
        == "PO line 1: line 1 bills 5, over the 4 left of 6 received (unit: each; no tolerance)"
    )
    assert (reason.position, reason.po_line, reason.expected, reason.actual) == (1, 1, "4", "5")


def test_several_invoice_lines_on_one_po_line_are_summed_before_the_limit() -> None:
    order = make_po(po_line(1, "A", quantity="10", price=1000))
    within = make_invoice(
        inv_line(1, "A", quantity="4", price=1000),
        inv_line(2, "A", quantity="2.5", price=1000),
        inv_line(3, "A", quantity="3.5", price=1000, po_line=1),
    )
    result = match(within, order)
    assert result.outcome is MatchOutcome.MATCHED
    assert result.consumption == (Consumption(po_line=1, quantity=Decimal(10), amount_minor=10000),)

    over = make_invoice(
        inv_line(1, "A", quantity="6", price=1000), inv_line(3, "A", quantity="5", price=1000)
    )
    result = match(over, order, Tolerances(total_over_pct=Decimal(50)))
    (reason,) = result.reasons
    assert reason.code is Code.QUANTITY_OVER_ORDERED
    assert reason.position is None and reason.po_line == 1
    assert "lines 1, 3 bill 11, over" in reason.detail
    assert result.consumption == ()


def test_consumption_is_one_entry_per_po_line_in_line_order() -> None:
    order = make_po(
        po_line(1, "A", price=100), po_line(2, "B", price=200), po_line(3, "C", price=300)
    )
    invoice = make_invoice(
        inv_line(1, "C", quantity="1", price=300),
        inv_line(2, "A", quantity="2", price=100),
        inv_line(3, "C", quantity="1.5", price=300),
    )
    result = match(invoice, order)
    assert result.outcome is MatchOutcome.MATCHED
    assert result.po_id == "po_1" and result.po_revision == 1
    assert result.consumption == (
        Consumption(po_line=1, quantity=Decimal(2), amount_minor=200),
        Consumption(po_line=3, quantity=Decimal("2.5"), amount_minor=750),
    )


def test_a_result_keeps_its_json_and_comes_back_equal_from_it() -> None:
    """Match results sit in workflow histories and database rows: their JSON is fixed (the
    per-line records, dataclasses for speed, serialize as the models they were), and a
    result read back from it is the same result."""
    order = make_po(po_line(1, "A", quantity="3", price=10000))
    invoice = make_invoice(inv_line(1, "A", quantity="2.5", price=10050))
    result = match(invoice, order, Tolerances(price_over_pct=Decimal(1)))
    assert result.outcome is MatchOutcome.MATCHED_WITH_VARIANCE
    variance = {
        "position": 1,
        "po_line": 1,
        "kind": "price",
        "expected": "GBP 100.00",
        "actual": "GBP 100.50",
        "variance_minor": 50,
        "variance_pct": "0.50",
    }
    consumed = {"po_line": 1, "quantity": "2.5", "amount_minor": 25125}
    assert result.model_dump(mode="json") == {
        "outcome": "MATCHED_WITH_VARIANCE",
        "po_id": "po_1",
        "po_revision": 1,
        "reasons": [],
        "variances": [variance],
        "consumption": [consumed],
        "billed": [consumed],
    }
    assert result.variances_json() == [variance]
    assert MatchResult.model_validate_json(result.model_dump_json()) == result


# --- line mapping -------------------------------------------------------------------------


def test_lines_of_a_code_several_po_lines_share_fill_the_first_then_the_next() -> None:
    order = make_po(
        po_line(3, "A", quantity="5"),
        po_line(1, "A", quantity="5"),
        po_line(2, "A", quantity="5", invoiced_quantity=Decimal(5)),  # used up
    )
    invoice = make_invoice(inv_line(1, "A", quantity="5"), inv_line(2, "A", quantity="2"))
    result = match(invoice, order)
    assert result.outcome is MatchOutcome.MATCHED
    # by line number, not by the order the PO lists them in; a used-up line is passed over
    assert [(c.po_line, c.quantity) for c in result.consumption] == [(1, 5), (3, 2)]


def test_with_nothing_left_on_any_po_line_of_the_code_the_first_takes_it_and_fails() -> None:
    order = make_po(
        po_line(1, "A", quantity="5", invoiced_quantity=Decimal(5)),
        po_line(2, "A", quantity="5", invoiced_quantity=Decimal(5)),
    )
    result = match(
        make_invoice(inv_line(1, "A", quantity="1")), order, Tolerances(total_over_pct=Decimal(100))
    )
    assert Code.QUANTITY_OVER_ORDERED in result.codes
    assert [r.po_line for r in result.reasons if r.code is Code.QUANTITY_OVER_ORDERED] == [1]


def test_a_line_naming_its_po_line_without_an_item_code_matches_it() -> None:
    order = make_po(po_line(1, "A"), po_line(2, "B"))
    result = match(make_invoice(inv_line(1, None, quantity="10", po_line=2)), order)
    assert result.outcome is MatchOutcome.MATCHED
    assert result.consumption[0].po_line == 2


def test_units_compare_trimmed_and_case_insensitively_and_are_never_converted() -> None:
    order = make_po(po_line(unit="each"))
    assert match(make_invoice(inv_line(unit=" EACH ")), order).outcome is MatchOutcome.MATCHED
    result = match(make_invoice(inv_line(quantity="1", unit="box")), order)
    assert result.codes == (Code.UOM_MISMATCH,)
    assert (result.reasons[0].expected, result.reasons[0].actual) == ("each", "box")


def test_a_line_of_another_unit_is_left_out_of_the_quantity_sum() -> None:
    order = make_po(po_line(quantity="10"))
    invoice = make_invoice(inv_line(1, quantity="10"), inv_line(2, quantity="100", unit="box"))
    assert match(invoice, order, Tolerances(total_over_pct=Decimal(2000))).codes == (
        Code.UOM_MISMATCH,
    )


# --- every reason code --------------------------------------------------------------------


def _reach(code: Code) -> MatchResult:
    """A small invoice that fails for `code` (and, where it cannot be helped, for more)."""
    base = make_po()
    scenarios: dict[Code, Callable[[], MatchResult]] = {
        Code.PRICE_VARIANCE: lambda: price_result(10001, EXACT),
        Code.QUANTITY_OVER_ORDERED: lambda: quantity_result("10.5"),
        Code.QUANTITY_OVER_RECEIVED: lambda: quantity_result(
            "3", mode=MatchMode.THREE_WAY, received="2"
        ),
        Code.NOT_ON_PO: lambda: match(make_invoice(inv_line(code="GADGET", quantity="1")), base),
        Code.UOM_MISMATCH: lambda: match(make_invoice(inv_line(quantity="1", unit="kg")), base),
        Code.ITEM_MISMATCH: lambda: match(
            make_invoice(inv_line(code="GADGET", quantity="1", po_line=1)), base
        ),
        Code.PO_LINE_UNKNOWN: lambda: match(make_invoice(inv_line(quantity="1", po_line=9)), base),
        Code.PO_EXHAUSTED: lambda: match(
            make_invoice(inv_line(quantity="1")), make_po(invoiced_minor=95000)
        ),
        Code.PO_EXPIRED: lambda: match(
            make_invoice(), make_po(valid_to=ISSUED - dt.timedelta(days=1))
        ),
        Code.PO_NOT_YET_VALID: lambda: match(
            make_invoice(), make_po(valid_from=ISSUED + dt.timedelta(days=1))
        ),
        Code.PO_CLOSED: lambda: match(make_invoice(), make_po(status=POStatus.CLOSED)),
        Code.CURRENCY_MISMATCH: lambda: match(make_invoice(), make_po(currency="EUR")),
        Code.PO_MISSING: lambda: match(make_invoice(), None),
        Code.PO_OF_ANOTHER_CUSTOMER: lambda: match(
            make_invoice(), None, po_of_another_customer=True
        ),
        Code.POSSIBLE_DUPLICATE: lambda: match(
            make_invoice(external_ref="REF-1"),
            base,
            recent=[recent_like(make_invoice(external_ref="REF-1"))],
        ),
    }
    assert set(scenarios) == set(Code), "every reason code needs a scenario here"
    return scenarios[code]()


@pytest.mark.parametrize("code", list(Code))
def test_every_reason_code_is_reached_and_makes_an_exception(code: Code) -> None:
    result = _reach(code)
    assert result.codes == (code,)
    assert result.outcome is MatchOutcome.EXCEPTION
    assert result.consumption == ()
    assert all(reason.detail for reason in result.reasons)


def test_a_cancelled_po_is_closed_too() -> None:
    result = match(make_invoice(), make_po(status=POStatus.CANCELLED))
    assert result.codes == (Code.PO_CLOSED,)
    assert result.reasons[0].detail == "PO PO-1 is cancelled"


def test_every_reason_found_is_reported_not_only_the_first() -> None:
    order = make_po(po_line(1, "A"), status=POStatus.CLOSED, valid_to=ISSUED - dt.timedelta(days=1))
    invoice = make_invoice(
        inv_line(1, "A", quantity="11"), inv_line(2, "B", quantity="1"), inv_line(3, "A", po_line=7)
    )
    assert match(invoice, order).codes == (
        Code.PO_CLOSED,
        Code.PO_EXPIRED,
        Code.NOT_ON_PO,
        Code.PO_LINE_UNKNOWN,
        Code.QUANTITY_OVER_ORDERED,
        Code.PO_EXHAUSTED,
    )


# --- the PO as a whole --------------------------------------------------------------------


def test_no_po_number_and_none_required_is_matched_against_nothing() -> None:
    result = match(make_invoice(po_number=None, po_required=False), make_po())
    assert result == MatchResult(outcome=MatchOutcome.MATCHED)


def test_a_blank_po_number_counts_as_none() -> None:
    assert match(make_invoice(po_number="  "), None).codes == (Code.PO_MISSING,)


def test_a_number_the_customer_has_no_po_for_is_named_in_the_reason() -> None:
    (reason,) = match(make_invoice(po_number="PO-9"), None).reasons
    assert reason.code is Code.PO_MISSING
    assert "PO-9" in reason.detail


def test_a_snapshot_of_another_customers_po_is_refused_without_comparing_it() -> None:
    result = match(make_invoice(inv_line(quantity="99")), make_po(customer_id="cus_other"))
    assert result.codes == (Code.PO_OF_ANOTHER_CUSTOMER,)
    assert result.po_id is None


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "codes"),
    [
        (ISSUED, ISSUED, ()),  # both ends inclusive
        (ISSUED + dt.timedelta(days=1), None, (Code.PO_NOT_YET_VALID,)),
        (None, ISSUED - dt.timedelta(days=1), (Code.PO_EXPIRED,)),
        (None, None, ()),
    ],
)
def test_validity_ends(
    valid_from: dt.date | None, valid_to: dt.date | None, codes: tuple[Code, ...]
) -> None:
    assert match(make_invoice(), make_po(valid_from=valid_from, valid_to=valid_to)).codes == codes


def test_another_currency_skips_the_price_and_total_comparisons_but_not_quantities() -> None:
    order = make_po(currency="EUR")
    assert match(make_invoice(inv_line(price=99999)), order).codes == (Code.CURRENCY_MISMATCH,)
    over = match(make_invoice(inv_line(quantity="11", price=1)), order)
    assert over.codes == (Code.CURRENCY_MISMATCH, Code.QUANTITY_OVER_ORDERED)


def total_result(
    net_units: int, tolerances: Tolerances, invoiced_minor: int = 995_000
) -> MatchResult:
    """A PO of 1,000,000 units at 1 minor unit (amount 10,000.00) with `invoiced_minor` used;
    the invoice bills `net_units` of them, so its net is `net_units` minor units."""
    order = make_po(po_line(quantity="1000000", price=1), invoiced_minor=invoiced_minor)
    return match(make_invoice(inv_line(quantity=str(net_units), price=1)), order, tolerances)


@pytest.mark.parametrize(
    ("net", "tolerances", "passes"),
    [
        (5000, EXACT, True),  # exactly what is left
        (5001, EXACT, False),
        # 1% of the PO's amount (10,000 minor units), not of what is left (50)
        (15000, Tolerances(total_over_pct=Decimal(1)), True),
        (15001, Tolerances(total_over_pct=Decimal(1)), False),
        (5100, Tolerances(total_over_minor=100), True),
        (5101, Tolerances(total_over_minor=100), False),
        (5100, Tolerances(total_over_pct=Decimal(1), total_over_minor=100), True),
        (5101, Tolerances(total_over_pct=Decimal(1), total_over_minor=100), False),
    ],
)
def test_total_tolerance_boundaries(net: int, tolerances: Tolerances, passes: bool) -> None:
    result = total_result(net, tolerances)
    if passes:
        assert result.outcome is MatchOutcome.MATCHED
    else:
        assert result.codes == (Code.PO_EXHAUSTED,)
        assert (result.reasons[0].expected, result.reasons[0].actual) == (
            "GBP 50.00",
            f"GBP {net // 100}.{net % 100:02d}",
        )


@pytest.mark.parametrize(
    ("net", "passes"),
    [(5100, True), (5101, False)],
)
def test_a_pos_own_total_limit_is_over_the_customers(net: int, passes: bool) -> None:
    order = make_po(
        po_line(quantity="1000000", price=1),
        invoiced_minor=995_000,
        tolerances=Tolerances(total_over_minor=100, price_over_pct=Decimal(3)),
    )
    # the customer's allow 10,000 (the stricter of 10% of the PO's 1,000,000 and 10,000);
    # the PO's own 100 is stricter still
    customers = Tolerances(total_over_pct=Decimal(10), total_over_minor=10_000)
    result = match(make_invoice(inv_line(quantity=str(net), price=1)), order, customers)
    assert result.outcome is (MatchOutcome.MATCHED if passes else MatchOutcome.EXCEPTION)
    if not passes:
        assert result.codes == (Code.PO_EXHAUSTED,)
        assert "(tolerance 1.00)" in result.reasons[0].detail


@pytest.mark.parametrize("invoiced_minor", [1_000_000, 1_000_500])
def test_a_used_up_po_takes_nothing_more_whatever_the_tolerance(invoiced_minor: int) -> None:
    result = total_result(1, Tolerances(total_over_pct=Decimal(50)), invoiced_minor)
    assert result.codes == (Code.PO_EXHAUSTED,)
    assert "used up" in result.reasons[0].detail


# --- overrides ----------------------------------------------------------------------------


def test_a_po_line_override_loosens_one_limit_for_that_line_only() -> None:
    defaults = Tolerances(price_over_minor=100, total_over_pct=Decimal(10))
    order = make_po(
        po_line(1, "A", quantity="1", tolerances=Tolerances(price_over_minor=500)),
        po_line(2, "B", quantity="1"),
    )
    invoice = make_invoice(inv_line(1, "A", "1", price=10500), inv_line(2, "B", "1", price=10500))
    result = match(invoice, order, defaults)
    assert [(r.code, r.position) for r in result.reasons] == [(Code.PRICE_VARIANCE, 2)]


def test_an_override_of_one_limit_leaves_the_defaults_other_limits_in_force() -> None:
    defaults = Tolerances(price_over_minor=100, total_over_pct=Decimal(10))
    # the line's 5% adds a limit; the default's absolute 1.00 still applies, and is stricter
    order = make_po(po_line(1, "A", quantity="1", tolerances=Tolerances(price_over_pct=Decimal(5))))
    assert match(make_invoice(inv_line(1, "A", "1", price=10100)), order, defaults).codes == ()
    result = match(make_invoice(inv_line(1, "A", "1", price=10101)), order, defaults)
    assert result.codes == (Code.PRICE_VARIANCE,)


def test_a_po_line_override_tightens_one_limit_and_keeps_the_others() -> None:
    defaults = Tolerances(
        price_over_pct=Decimal(5), quantity_over_pct=Decimal(10), total_over_pct=Decimal(20)
    )
    order = make_po(
        po_line(1, "A", quantity="10", tolerances=Tolerances(price_over_pct=Decimal(0))),
        po_line(2, "B", quantity="10"),
    )
    invoice = make_invoice(inv_line(1, "A", "11", price=10001), inv_line(2, "B", "11", price=10001))
    result = match(invoice, order, defaults)
    # line 1 may not be a minor unit over in price, but keeps the default 10% quantity
    assert [(r.code, r.position) for r in result.reasons] == [(Code.PRICE_VARIANCE, 1)]
    tightened_quantity = make_po(
        po_line(1, "A", quantity="10", tolerances=Tolerances(quantity_over_pct=Decimal(0))),
        po_line(2, "B", quantity="10"),
    )
    result = match(invoice, tightened_quantity, defaults)
    assert [(r.code, r.po_line) for r in result.reasons] == [(Code.QUANTITY_OVER_ORDERED, 1)]


# --- duplicates ---------------------------------------------------------------------------


def recent_like(invoice: InvoiceToMatch, **fields: Any) -> RecentInvoice:
    values: dict[str, Any] = {
        "invoice_id": "inv_old",
        "number": "INV-0042",
        "customer_id": invoice.customer_id,
        "currency": invoice.currency,
        "total_minor": invoice.total_minor,
        "po_number": invoice.po_number,
        "external_ref": invoice.external_ref,
        "issue_date": invoice.issue_date - dt.timedelta(days=3),
        "line_keys": invoice_line_keys(invoice.lines),
    }
    values.update(fields)
    return RecentInvoice(**values)


REFERENCED = make_invoice(external_ref="REF-1")
OTHER_LINES = (("something else", "1", 5),)


def test_same_po_and_reference_and_total_is_a_possible_duplicate() -> None:
    (reason,) = possible_duplicates(
        REFERENCED, [recent_like(REFERENCED, line_keys=OTHER_LINES)], 30
    )
    assert reason.code is Code.POSSIBLE_DUPLICATE
    assert "INV-0042" in reason.detail and "inv_old" in reason.detail
    assert "same PO PO-1 and reference REF-1" in reason.detail


def test_the_po_rule_applies_when_no_po_is_required() -> None:
    invoice = make_invoice(external_ref="REF-1", po_required=False)
    result = match(invoice, make_po(), recent=[recent_like(invoice, line_keys=OTHER_LINES)])
    assert result.codes == (Code.POSSIBLE_DUPLICATE,)


def test_duplicates_are_checked_on_an_invoice_without_a_po() -> None:
    invoice = make_invoice(po_number=None, po_required=False)
    result = match(invoice, None, recent=[recent_like(invoice)])
    assert result.outcome is MatchOutcome.EXCEPTION
    assert result.codes == (Code.POSSIBLE_DUPLICATE,)


@pytest.mark.parametrize(
    "difference",
    [
        {"external_ref": None},
        {"external_ref": "REF-2"},
        {"po_number": "PO-2"},
        {"total_minor": REFERENCED.total_minor + 1},
        {"customer_id": "cus_2"},
        {"currency": "EUR"},
    ],
)
def test_the_po_rule_needs_every_part_the_same(difference: dict[str, Any]) -> None:
    other = recent_like(REFERENCED, line_keys=OTHER_LINES, **difference)
    assert possible_duplicates(REFERENCED, [other], 30) == ()


def test_an_empty_reference_on_both_is_no_po_duplicate() -> None:
    invoice = make_invoice(external_ref="")
    assert possible_duplicates(invoice, [recent_like(invoice, line_keys=OTHER_LINES)], 30) == ()


def test_same_lines_in_another_order_and_total_is_a_possible_duplicate() -> None:
    invoice = make_invoice(inv_line(1, "A", "1.50"), inv_line(2, None, "2", description="Travel"))
    keys = (line_key(None, " travel", Decimal("2.000"), 10000), ("A", "1.5", 10000))
    (reason,) = possible_duplicates(
        invoice, [recent_like(invoice, po_number=None, line_keys=keys)], 30
    )
    assert "same lines" in reason.detail


@pytest.mark.parametrize(
    ("changed_key", "duplicate"),
    [
        (("widget", "10", 10000), True),
        (("widget", "10", 10001), False),
        (("widget", "9", 10000), False),
    ],
)
def test_the_lines_rule_compares_item_quantity_and_price(
    changed_key: tuple[str, str, int], duplicate: bool
) -> None:
    invoice = make_invoice()
    other = recent_like(invoice, po_number="PO-OTHER", line_keys=(changed_key,))
    assert bool(possible_duplicates(invoice, [other], 30)) is duplicate


@pytest.mark.parametrize(
    ("days", "duplicate"), [(0, True), (30, True), (31, False), (-30, True), (-31, False)]
)
@pytest.mark.parametrize("rule", ["po and reference", "lines"])
def test_the_window_is_inclusive_for_both_rules(days: int, duplicate: bool, rule: str) -> None:
    other_fields: dict[str, Any] = {"issue_date": ISSUED - dt.timedelta(days=days)}
    if rule == "lines":
        other_fields["po_number"] = None
    else:
        other_fields["line_keys"] = OTHER_LINES
    other = recent_like(REFERENCED, **other_fields)
    assert bool(possible_duplicates(REFERENCED, [other], 30)) is duplicate


def test_credit_notes_are_never_duplicates_nor_originals() -> None:
    credit = make_invoice(external_ref="REF-1", is_credit_note=True)
    assert possible_duplicates(credit, [recent_like(credit)], 30) == ()
    assert possible_duplicates(REFERENCED, [recent_like(REFERENCED, is_credit_note=True)], 30) == ()


def test_an_invoice_is_not_its_own_duplicate() -> None:
    assert (
        possible_duplicates(REFERENCED, [recent_like(REFERENCED, invoice_id="inv_new")], 30) == ()
    )


def test_the_invoice_an_adjusted_invoice_replaces_is_never_its_duplicate() -> None:
    """An adjusted invoice changing only what no rule compares (the due date, the address)
    has its original's lines, total, PO and reference: still no duplicate of it, voided
    yet or not; another invoice of the same figures still is one."""
    replacement = make_invoice(external_ref="REF-1", replaces_invoice_id="inv_old")
    original = recent_like(replacement, invoice_id="inv_old")
    assert possible_duplicates(replacement, [original], 30) == ()
    assert match(replacement, make_po(), recent=[original]).outcome is MatchOutcome.MATCHED
    other = recent_like(replacement, invoice_id="inv_other", number="INV-0043")
    (reason,) = possible_duplicates(replacement, [original, other], 30)
    assert "inv_other" in reason.detail and "inv_old" not in reason.detail


def test_one_reason_per_earlier_invoice_that_looks_the_same() -> None:
    first = recent_like(REFERENCED, invoice_id="inv_a", number="INV-1")
    second = recent_like(REFERENCED, invoice_id="inv_b", number=None)
    reasons = possible_duplicates(REFERENCED, [first, second], 30)
    assert ["inv_a" in reasons[0].detail, "inv_b" in reasons[1].detail] == [True, True]
