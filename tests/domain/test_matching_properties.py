"""Properties of domain.matching.match_invoice, with hypothesis.

1. Whatever the PO and the invoice, an accepted invoice (not EXCEPTION) never bills a PO
   line beyond its ordered quantity (2-way), or its received quantity (3-way), less what
   was invoiced before, plus the tolerance; and one that stays within those limits (prices
   and units right) is accepted: the matcher is neither too lax nor too strict.
2. Over a random life of a PO (invoices consumed when accepted, amendments of a line's
   quantity or price that never go below what is consumed, voids that release), what the
   accepted invoices consume of a line never exceeds what the line allows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.matching import (
    InvoiceToMatch,
    LineToMatch,
    MatchMode,
    MatchOutcome,
    POStatus,
    PurchaseOrderLine,
    PurchaseOrderSnapshot,
    Tolerances,
    match_invoice,
)
from domain.money import DECIMAL_CONTEXT, round_minor

ISSUED = dt.date(2026, 6, 1)
# The total is not what these properties are about: a total tolerance far beyond anything a
# quantity tolerance can add, so PO_EXHAUSTED never interferes.
GENEROUS_TOTAL = Decimal(1000)

hundredths = st.integers(min_value=1, max_value=6000).map(lambda n: Decimal(n).scaleb(-2))
percents = st.none() | st.integers(min_value=0, max_value=50).map(Decimal)
modes = st.sampled_from([MatchMode.TWO_WAY, MatchMode.THREE_WAY])


def _add(a: Decimal, b: Decimal) -> Decimal:
    return DECIMAL_CONTEXT.add(a, b)


def _sub(a: Decimal, b: Decimal) -> Decimal:
    return DECIMAL_CONTEXT.subtract(a, b)


def _of(base: Decimal, pct: Decimal | None) -> Decimal:
    return (
        _ZERO if pct is None else DECIMAL_CONTEXT.divide(DECIMAL_CONTEXT.multiply(base, pct), 100)
    )


_ZERO = Decimal(0)


def _limits(line: PurchaseOrderLine, defaults: Tolerances, mode: MatchMode) -> list[Decimal]:
    """The most the PO line may be billed now, each limit that applies: computed here from
    the rules as written, not with the matcher's code."""
    pct = defaults.overridden(line.tolerances).quantity_over_pct
    limits = []
    three_way = mode is MatchMode.THREE_WAY
    if not (three_way and line.allow_over_delivery):
        limits.append(_add(_sub(line.quantity, line.invoiced_quantity), _of(line.quantity, pct)))
    if three_way:
        received = line.received_quantity
        limits.append(_add(_sub(received, line.invoiced_quantity), _of(received, pct)))
    return limits


@st.composite
def po_lines(draw: st.DrawFn, number: int) -> PurchaseOrderLine:
    quantity = draw(st.integers(min_value=1, max_value=40).map(Decimal))
    invoiced = draw(
        st.integers(min_value=0, max_value=int(quantity * 100)).map(lambda n: Decimal(n).scaleb(-2))
    )
    received = draw(
        st.integers(min_value=0, max_value=int(quantity * 200)).map(lambda n: Decimal(n).scaleb(-2))
    )
    override = draw(st.none() | percents.map(lambda pct: Tolerances(quantity_over_pct=pct)))
    return PurchaseOrderLine(
        line_number=number,
        item_code=f"SKU-{number}",
        quantity=quantity,
        unit="each",
        unit_price_minor=draw(st.integers(min_value=100, max_value=100_000)),
        allow_over_delivery=draw(st.booleans()),
        tolerances=override,
        invoiced_quantity=invoiced,
        received_quantity=received,
    )


def _invoice(lines: list[LineToMatch], invoice_id: str = "inv_1") -> InvoiceToMatch:
    net = sum(line.net_minor for line in lines)
    return InvoiceToMatch(
        invoice_id=invoice_id,
        customer_id="cus_1",
        currency="GBP",
        issue_date=ISSUED,
        po_number="PO-1",
        po_required=True,
        lines=tuple(lines),
        net_minor=net,
        total_minor=net,
    )


def _line(
    position: int, po_line: PurchaseOrderLine, quantity: Decimal, by_code: bool
) -> LineToMatch:
    return LineToMatch(
        position=position,
        item_code=po_line.item_code,
        description="",
        quantity=quantity,
        unit="each",
        unit_price_minor=po_line.unit_price_minor,
        net_minor=round_minor(
            DECIMAL_CONTEXT.multiply(quantity, Decimal(po_line.unit_price_minor))
        ),
        po_line=None if by_code else po_line.line_number,
    )


def _po(
    lines: tuple[PurchaseOrderLine, ...], mode: MatchMode, **fields: Any
) -> PurchaseOrderSnapshot:
    return PurchaseOrderSnapshot(
        po_id="po_1",
        number="PO-1",
        customer_id="cus_1",
        currency="GBP",
        status=POStatus.OPEN,
        match_mode=mode,
        lines=lines,
        **fields,
    )


@st.composite
def quantity_cases(draw: st.DrawFn) -> tuple[PurchaseOrderSnapshot, InvoiceToMatch, Tolerances]:
    count = draw(st.integers(min_value=1, max_value=4))
    lines = [draw(po_lines(number)) for number in range(1, count + 1)]
    mode = draw(modes)
    defaults = Tolerances(quantity_over_pct=draw(percents), total_over_pct=GENEROUS_TOTAL)
    po = _po(tuple(lines), mode)
    # What each billed PO line gets in total comes first, since the limits are on totals:
    # random, or exactly at a limit or just past it, where a matcher off by one comparison
    # shows; the limits of both modes, with and without over-delivery, so that one applied
    # where it should not be shows too. Each total is then split over one to three
    # invoice lines, and the lines shuffled.
    billed_lines = draw(st.lists(st.sampled_from(lines), min_size=1, max_size=count, unique_by=id))
    pieces: list[tuple[PurchaseOrderLine, Decimal]] = []
    for target in billed_lines:
        bounds = {
            bound
            for flag in (False, True)
            for either in MatchMode
            for bound in _limits(
                target.model_copy(update={"allow_over_delivery": flag}), defaults, either
            )
        }
        edges = sorted(
            edge for bound in bounds for edge in (bound, _add(bound, Decimal("0.0001"))) if edge > 0
        )
        total = draw(st.one_of(hundredths, st.sampled_from(edges)) if edges else hundredths)
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            cut = DECIMAL_CONTEXT.divide(
                DECIMAL_CONTEXT.multiply(total, Decimal(draw(st.integers(1, 99)))), 100
            )
            pieces.append((target, cut))
            total = _sub(total, cut)
        pieces.append((target, total))
    ordered = draw(st.permutations(pieces))
    invoice_lines = [
        _line(position, target, quantity, by_code=False)
        for position, (target, quantity) in enumerate(ordered, start=1)
    ]
    return po, _invoice(invoice_lines), defaults


@settings(max_examples=600, deadline=None)
@given(quantity_cases())
def test_accepted_exactly_when_every_po_line_is_within_what_it_allows(
    case: tuple[PurchaseOrderSnapshot, InvoiceToMatch, Tolerances],
) -> None:
    po, invoice, defaults = case
    result = match_invoice(invoice, po, tolerances=defaults)
    billed: dict[int, Decimal] = {}
    for line in invoice.lines:
        assert line.po_line is not None
        billed[line.po_line] = _add(billed.get(line.po_line, _ZERO), line.quantity)
    by_number = {line.line_number: line for line in po.lines}
    within = all(
        quantity <= limit
        for number, quantity in billed.items()
        for limit in _limits(by_number[number], defaults, po.match_mode)
    )
    accepted = result.outcome is not MatchOutcome.EXCEPTION
    assert accepted is within, result.reasons
    if accepted:
        assert {c.po_line: c.quantity for c in result.consumption} == billed


# --- a PO's life --------------------------------------------------------------------------


@dataclass
class Life:
    """A PO as the store would keep it: its lines, and what each accepted invoice took."""

    lines: dict[int, PurchaseOrderLine]
    mode: MatchMode
    defaults: Tolerances
    revision: int = 1
    accepted: dict[str, dict[int, tuple[Decimal, int]]] = field(default_factory=dict)

    def consumed(self, number: int) -> Decimal:
        return sum((taken[number][0] for taken in self.accepted.values() if number in taken), _ZERO)

    def snapshot(self) -> PurchaseOrderSnapshot:
        """The lines with their invoiced quantities fed back from what is accepted."""
        lines = tuple(
            line.model_copy(update={"invoiced_quantity": self.consumed(number)})
            for number, line in sorted(self.lines.items())
        )
        invoiced_minor = sum(
            amount for taken in self.accepted.values() for _, amount in taken.values()
        )
        return _po(
            lines,
            self.mode,
            revision=self.revision,
            invoiced_minor=invoiced_minor,
        )

    def check(self) -> None:
        snapshot = self.snapshot()
        for line in snapshot.lines:
            # what is consumed against the line as it stands, with nothing invoiced before
            fresh = line.model_copy(update={"invoiced_quantity": _ZERO})
            for limit in _limits(fresh, self.defaults, self.mode):
                assert line.invoiced_quantity <= limit, (line, self.accepted)


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("invoice"),
            st.lists(
                st.tuples(st.integers(0, 3), hundredths, st.booleans()), min_size=1, max_size=4
            ),
        ),
        st.tuples(st.just("amend"), st.integers(0, 3), hundredths, st.integers(100, 100_000)),
        st.tuples(st.just("void"), st.integers(0, 50)),
    ),
    max_size=25,
)


@st.composite
def lives(draw: st.DrawFn) -> tuple[Life, list[Any]]:
    count = draw(st.integers(min_value=1, max_value=4))
    # two codes for up to four lines: invoice lines by code exercise the shared-code rule
    lines = {
        number: draw(po_lines(number)).model_copy(
            update={"item_code": f"SKU-{number % 2}", "invoiced_quantity": _ZERO}
        )
        for number in range(1, count + 1)
    }
    defaults = Tolerances(quantity_over_pct=draw(percents), total_over_pct=GENEROUS_TOTAL)
    return Life(lines, draw(modes), defaults), draw(operations)


@settings(max_examples=300, deadline=None)
@given(lives())
def test_consumption_never_exceeds_a_po_line_through_invoices_amendments_and_voids(
    case: tuple[Life, list[Any]],
) -> None:
    life, steps = case
    numbers = sorted(life.lines)
    for step_index, step in enumerate(steps):
        kind = step[0]
        if kind == "invoice":
            snapshot = life.snapshot()
            by_number = {line.line_number: line for line in snapshot.lines}
            lines = [
                _line(position, by_number[numbers[pick % len(numbers)]], quantity, by_code)
                for position, (pick, quantity, by_code) in enumerate(step[1], start=1)
            ]
            invoice_id = f"inv_{step_index}"
            result = match_invoice(_invoice(lines, invoice_id), snapshot, tolerances=life.defaults)
            if result.outcome is not MatchOutcome.EXCEPTION:
                life.accepted[invoice_id] = {
                    c.po_line: (c.quantity, c.amount_minor) for c in result.consumption
                }
        elif kind == "amend":
            _, pick, quantity, price = step
            number = numbers[pick % len(numbers)]
            # an amendment may not take a line below what is already consumed of it
            floor = life.consumed(number)
            new_quantity = max(quantity, floor) if floor > 0 else quantity
            life.lines[number] = life.lines[number].model_copy(
                update={"quantity": new_quantity, "unit_price_minor": price}
            )
            life.revision += 1
        elif life.accepted:
            voided = sorted(life.accepted)[step[1] % len(life.accepted)]
            del life.accepted[voided]
        life.check()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10**6).map(lambda n: Decimal(n).scaleb(-3)),
            st.integers(min_value=0, max_value=10**9),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_the_po_amount_is_each_line_rounded_as_round_minor_does(
    figures: list[tuple[Decimal, int]],
) -> None:
    """The PO's amount (in integers, for speed) is the sum of each line's quantity x price
    rounded half away from zero, as `round_minor` rounds it: halves included (0.5 x 1 = 1)."""
    lines = tuple(
        PurchaseOrderLine(
            line_number=n, item_code=f"I{n}", quantity=q, unit="each", unit_price_minor=p
        )
        for n, (q, p) in enumerate(figures, start=1)
    )
    po = _po(lines, MatchMode.TWO_WAY)
    assert po.amount_minor == sum(round_minor(q * p) for q, p in figures)
