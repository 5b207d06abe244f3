"""`MatchingActivities.record` on SQLite and PostgreSQL: what the match saw may be gone by
the time it is recorded, so two invoices racing for a PO's last amount or a line's last
units cannot both consume it; a repeated record consumes once; and an invoice a person
accepted over its PO consumes no more of a line than its limit.

Each test drives the activities as the match stage does (`workflows/stages/match.py`):
`load`, the pure `match_invoice` on its context, then `record` with that result.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlmodel import col, select

from activities.matching import MatchingActivities
from core.settings import Settings
from domain.matching import match_invoice
from domain.matching.model import MatchOutcome, MatchReasonCode, MatchResult, Tolerances
from schemas.exception_tables import InvoiceMatchRow
from schemas.ids import new_id
from schemas.matching import LoadMatchInput, MatchContext, RecordMatchInput
from schemas.po_api import PurchaseOrderCreate
from schemas.po_tables import POConsumptionRow, PurchaseOrderLineRow, to_e4
from schemas.tables import AuditEvent, Contract, Customer, Invoice, InvoiceLineRow
from store import purchase_orders
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.support.factories import customer_and_contract

ITEM = "senior"
PO_PRICE = 10000  # 100.00 an hour


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


def _activities(sessions: SessionFactory, **tolerances: Decimal) -> MatchingActivities:
    """Only the limits a test sets: any other variance fails (empty tolerances are exact)."""
    return MatchingActivities(
        sessions, Settings(match_tolerances=Tolerances.model_validate(tolerances))
    )


async def _po(sessions: SessionFactory, customer: Customer, quantity: str) -> str:
    """A PO of one line: `quantity` hours of ITEM at 100.00."""
    body = PurchaseOrderCreate.model_validate(
        {
            "customer_id": customer.id,
            "number": new_id("PO"),
            "currency": "GBP",
            "lines": [
                {
                    "line_number": 1,
                    "item_code": ITEM,
                    "description": "Senior consultant",
                    "quantity": quantity,
                    "unit": "hour",
                    "unit_price_minor": PO_PRICE,
                }
            ],
        }
    )
    async with transaction(sessions) as session:
        row = await purchase_orders.create(session, body, actor="buyer", now=datetime.now(UTC))
    return row.id


async def _invoice(
    sessions: SessionFactory,
    customer: Customer,
    contract: Contract,
    po_id: str,
    hours: str,
    unit_price_minor: int,
) -> str:
    """An invoice of one line billing `hours` of ITEM against the PO, as generated.

    PENDING: at the match stage the invoice has not gone out, so it is nobody's possible
    duplicate (two of these tests bill the same hours twice on purpose)."""
    now = datetime.now(UTC)
    invoice_id = new_id("inv")
    net = int(Decimal(hours) * unit_price_minor)
    async with transaction(sessions) as session:
        po = await purchase_orders.get(session, po_id)
        assert po is not None
        session.add(
            Invoice(
                id=invoice_id,
                customer_id=customer.id,
                contract_id=contract.id,
                number=new_id("INV"),
                status="PENDING",
                currency="GBP",
                tax_region="GB",
                po_number=po.number,
                issue_date=date(2026, 11, 2),
                subtotal_minor=net,
                tax_minor=net // 5,
                total_minor=net + net // 5,
                created_by="test",
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        session.add(
            InvoiceLineRow(
                invoice_id=invoice_id,
                position=1,
                description="Senior consultant",
                quantity=hours,
                unit="hour",
                unit_price_minor=unit_price_minor,
                net_minor=net,
                tax_category="standard",
                rate_code=ITEM,
            )
        )
    return invoice_id


def _match(context: MatchContext) -> MatchResult:
    """As the match stage matches a loaded context (`workflows.stages.match._match`)."""
    return match_invoice(
        context.invoice,
        context.po,
        tolerances=context.tolerances,
        po_of_another_customer=context.po_of_another_customer,
        recent=context.recent,
        duplicate_window_days=context.duplicate_window_days,
    )


async def _load_and_match(activities: MatchingActivities, invoice_id: str) -> MatchResult:
    return _match(await activities.load(LoadMatchInput(invoice_id=invoice_id)))


async def _record(
    activities: MatchingActivities,
    invoice_id: str,
    result: MatchResult,
    *,
    accepted_by: str | None = None,
    justification: str | None = None,
    attempt: int = 1,
) -> bool:
    recorded = await activities.record(
        RecordMatchInput(
            invoice_id=invoice_id,
            result=result,
            accepted_by=accepted_by,
            justification=justification,
            attempt=attempt,
        )
    )
    return recorded.consumed


async def _invoiced_e4(sessions: SessionFactory, po_id: str) -> int:
    async with sessions() as session:
        rows = await session.exec(
            select(PurchaseOrderLineRow.invoiced_e4).where(
                PurchaseOrderLineRow.po_id == po_id, PurchaseOrderLineRow.line_number == 1
            )
        )
        return rows.one()


async def _consumptions(sessions: SessionFactory, invoice_id: str) -> list[tuple[int, int]]:
    """(quantity_e4, amount_minor) of each PO line the invoice consumed."""
    async with sessions() as session:
        rows = await session.exec(
            select(POConsumptionRow)
            .where(POConsumptionRow.invoice_id == invoice_id)
            .order_by(col(POConsumptionRow.line_number))
        )
        return [(row.quantity_e4, row.amount_minor) for row in rows]


async def _match_rows(sessions: SessionFactory, invoice_id: str) -> list[InvoiceMatchRow]:
    async with sessions() as session:
        rows = await session.exec(
            select(InvoiceMatchRow).where(InvoiceMatchRow.invoice_id == invoice_id)
        )
        return list(rows)


async def _audit_actions(sessions: SessionFactory, invoice_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.exec(
            select(AuditEvent.action)
            .where(AuditEvent.invoice_id == invoice_id)
            .order_by(col(AuditEvent.id))
        )
        return list(rows)


async def _race(
    activities: MatchingActivities, sessions: SessionFactory, po_id: str, invoices: list[str]
) -> list[bool]:
    """Both invoices matched on the whole PO, then recorded at the same time."""
    results = [await _load_and_match(activities, invoice_id) for invoice_id in invoices]
    for result in results:  # each alone fits the PO
        assert result.outcome != MatchOutcome.EXCEPTION, result.reasons
        assert result.po_id == po_id and result.consumption
    assert await _invoiced_e4(sessions, po_id) == 0
    outcomes = await asyncio.gather(
        *(
            _record(activities, invoice_id, result)
            for invoice_id, result in zip(invoices, results, strict=True)
        )
    )
    return list(outcomes)


async def test_two_invoices_racing_for_the_pos_last_amount_cannot_both_consume_it(
    sessions: SessionFactory,
) -> None:
    """6 h and 4 h at 150.00 fit the 10 h line, but 900.00 + 600.00 is over the PO's
    1,000.00: the quantity guard alone lets both through, the amount must stop one."""
    customer, contract = await customer_and_contract(sessions)
    activities = _activities(sessions, price_over_pct=Decimal(50), total_over_pct=Decimal(0))
    po_id = await _po(sessions, customer, "10")
    hours = {
        await _invoice(sessions, customer, contract, po_id, "6", 15000): "6",
        await _invoice(sessions, customer, contract, po_id, "4", 15000): "4",
    }
    invoices = list(hours)

    outcomes = await _race(activities, sessions, po_id, invoices)

    assert sorted(outcomes) == [False, True], outcomes
    winner, loser = invoices if outcomes[0] else invoices[::-1]
    assert await _invoiced_e4(sessions, po_id) == to_e4(Decimal(hours[winner]))
    assert await _consumptions(sessions, loser) == []
    assert await _match_rows(sessions, loser) == []
    assert [row.outcome for row in await _match_rows(sessions, winner)] == [
        MatchOutcome.MATCHED_WITH_VARIANCE.value
    ]
    again = await _load_and_match(activities, loser)
    assert again.outcome == MatchOutcome.EXCEPTION
    assert MatchReasonCode.PO_EXHAUSTED in again.codes, again.reasons


async def test_two_invoices_racing_for_a_lines_last_units_cannot_both_consume_them(
    sessions: SessionFactory,
) -> None:
    customer, contract = await customer_and_contract(sessions)
    activities = _activities(sessions, total_over_pct=Decimal(0))
    po_id = await _po(sessions, customer, "10")
    invoices = [
        await _invoice(sessions, customer, contract, po_id, "6", PO_PRICE) for _ in range(2)
    ]

    outcomes = await _race(activities, sessions, po_id, invoices)

    assert sorted(outcomes) == [False, True], outcomes
    winner, loser = invoices if outcomes[0] else invoices[::-1]
    assert await _invoiced_e4(sessions, po_id) == to_e4(Decimal(6))
    assert await _consumptions(sessions, winner) == [(to_e4(Decimal(6)), 60000)]
    assert await _consumptions(sessions, loser) == []
    assert await _match_rows(sessions, loser) == []


async def test_recording_the_same_match_twice_consumes_once(sessions: SessionFactory) -> None:
    """A retried activity: same invoice, same attempt."""
    customer, contract = await customer_and_contract(sessions)
    activities = _activities(sessions, total_over_pct=Decimal(0))
    po_id = await _po(sessions, customer, "10")
    invoice_id = await _invoice(sessions, customer, contract, po_id, "4", PO_PRICE)
    result = await _load_and_match(activities, invoice_id)
    assert result.outcome == MatchOutcome.MATCHED, result.reasons

    assert await _record(activities, invoice_id, result, attempt=1)
    assert await _record(activities, invoice_id, result, attempt=1)

    assert await _invoiced_e4(sessions, po_id) == to_e4(Decimal(4))
    assert await _consumptions(sessions, invoice_id) == [(to_e4(Decimal(4)), 40000)]
    rows = await _match_rows(sessions, invoice_id)
    assert [(row.outcome, row.po_id, row.accepted_by) for row in rows] == [
        (MatchOutcome.MATCHED.value, po_id, None)
    ]
    assert await _audit_actions(sessions, invoice_id) == [
        "purchase_order.consumed",
        "invoice.matched",
    ]


async def test_an_accepted_variance_over_the_po_consumes_the_line_up_to_its_limit(
    sessions: SessionFactory,
) -> None:
    """14 h billed on a 10 h line with 10 % over allowed: the person accepts the variance,
    the invoice goes, and the line is consumed to its limit of 11 h (the amount in
    proportion: 1,400.00 x 11/14), never to 14 h."""
    customer, contract = await customer_and_contract(sessions)
    activities = _activities(sessions, quantity_over_pct=Decimal(10), total_over_pct=Decimal(0))
    po_id = await _po(sessions, customer, "10")
    invoice_id = await _invoice(sessions, customer, contract, po_id, "14", PO_PRICE)
    result = await _load_and_match(activities, invoice_id)
    assert result.outcome == MatchOutcome.EXCEPTION
    assert MatchReasonCode.QUANTITY_OVER_ORDERED in result.codes, result.reasons

    consumed = await _record(
        activities, invoice_id, result, accepted_by="olivia", justification="agreed by phone"
    )

    assert consumed
    limit = to_e4(Decimal(11))
    assert await _invoiced_e4(sessions, po_id) == limit
    assert await _consumptions(sessions, invoice_id) == [(limit, 110000)]
    rows = await _match_rows(sessions, invoice_id)
    assert [(r.outcome, r.accepted_by, r.justification) for r in rows] == [
        ("ACCEPTED", "olivia", "agreed by phone")
    ]


async def test_an_accepted_variance_consumes_only_what_is_left_of_the_lines_limit(
    sessions: SessionFactory,
) -> None:
    """8 h already went out on the 10 h line (limit 11 h): an accepted invoice of 6 h
    takes the 3 h left (600.00 x 3/6), and the line ends at its limit, not at 14 h."""
    customer, contract = await customer_and_contract(sessions)
    activities = _activities(sessions, quantity_over_pct=Decimal(10), total_over_pct=Decimal(0))
    po_id = await _po(sessions, customer, "10")
    earlier = await _invoice(sessions, customer, contract, po_id, "8", PO_PRICE)
    assert await _record(activities, earlier, await _load_and_match(activities, earlier))
    invoice_id = await _invoice(sessions, customer, contract, po_id, "6", PO_PRICE)
    result = await _load_and_match(activities, invoice_id)
    assert result.outcome == MatchOutcome.EXCEPTION, result.reasons

    consumed = await _record(
        activities, invoice_id, result, accepted_by="olivia", justification="extra workshop"
    )

    assert consumed
    assert await _invoiced_e4(sessions, po_id) == to_e4(Decimal(11))
    assert await _consumptions(sessions, invoice_id) == [(to_e4(Decimal(3)), 30000)]
    rows = await _match_rows(sessions, invoice_id)
    assert [(r.outcome, r.accepted_by, r.justification) for r in rows] == [
        ("ACCEPTED", "olivia", "extra workshop")
    ]
