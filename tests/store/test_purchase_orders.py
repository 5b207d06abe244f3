"""What invoices consume of a PO, on SQLite and PostgreSQL: once per invoice, all lines or
none, given back once on release, never counted against the invoice itself when it is
matched again, and never twice for two invoices racing for a line's last units."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, select

from domain.matching.model import Consumption, POStatus, Tolerances
from schemas.ids import new_id
from schemas.po_api import DeliveryReceiptCreate, PurchaseOrderAmendment, PurchaseOrderCreate
from schemas.po_tables import POConsumptionRow, PurchaseOrderLineRow, to_e4
from schemas.tables import AuditEvent, Contract, Customer, Invoice
from store import purchase_orders
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.support.factories import customer_and_contract


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


def _line(number: int, quantity: str, price: int = 10000, **extra: Any) -> dict[str, Any]:
    return {
        "line_number": number,
        "item_code": f"item-{number}",
        "description": f"Item {number}",
        "quantity": quantity,
        "unit": "hour",
        "unit_price_minor": price,
        **extra,
    }


async def _po(
    sessions: SessionFactory, customer: Customer, *lines: dict[str, Any], **fields: Any
) -> str:
    body = PurchaseOrderCreate.model_validate(
        {
            "customer_id": customer.id,
            "number": fields.pop("number", new_id("PO")),
            "currency": "GBP",
            "lines": list(lines) or [_line(1, "10")],
            **fields,
        }
    )
    async with transaction(sessions) as session:
        row = await purchase_orders.create(session, body, actor="buyer", now=datetime.now(UTC))
    return row.id


async def _invoice(sessions: SessionFactory, customer: Customer, contract: Contract) -> str:
    now = datetime.now(UTC)
    invoice_id = new_id("inv")
    async with transaction(sessions) as session:
        session.add(
            Invoice(
                id=invoice_id,
                customer_id=customer.id,
                contract_id=contract.id,
                status="ISSUED",
                currency="GBP",
                tax_region="GB",
                created_by="test",
                created_at=now,
                updated_at=now,
            )
        )
    return invoice_id


def _take(line: int, quantity: str, amount: int) -> Consumption:
    return Consumption(po_line=line, quantity=Decimal(quantity), amount_minor=amount)


async def _consume(
    sessions: SessionFactory,
    invoice_id: str,
    po_id: str,
    taken: list[Consumption],
    caps: dict[int, int] | None = None,
) -> bool:
    async with transaction(sessions) as session:
        return await purchase_orders.consume(session, invoice_id, po_id, taken, caps or {})


async def _invoiced(sessions: SessionFactory, po_id: str) -> dict[int, int]:
    async with sessions() as session:
        rows = await session.exec(
            select(PurchaseOrderLineRow).where(PurchaseOrderLineRow.po_id == po_id)
        )
        return {row.line_number: row.invoiced_e4 for row in rows}


async def _consumptions(sessions: SessionFactory, invoice_id: str) -> list[POConsumptionRow]:
    async with sessions() as session:
        rows = await session.exec(
            select(POConsumptionRow)
            .where(POConsumptionRow.invoice_id == invoice_id)
            .order_by(col(POConsumptionRow.line_number))
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


async def test_a_repeated_consume_for_the_same_invoice_takes_nothing_more(
    sessions: SessionFactory,
) -> None:
    customer, contract = await customer_and_contract(sessions)
    po_id = await _po(sessions, customer, _line(1, "10"), _line(2, "5"))
    invoice_id = await _invoice(sessions, customer, contract)
    taken = [_take(1, "2.5", 25000), _take(2, "1", 10000)]

    assert await _consume(sessions, invoice_id, po_id, taken)
    assert await _consume(sessions, invoice_id, po_id, taken)  # a retried activity

    assert await _invoiced(sessions, po_id) == {1: 25000, 2: 10000}
    rows = await _consumptions(sessions, invoice_id)
    assert [(r.line_number, r.quantity_e4, r.amount_minor) for r in rows] == [
        (1, 25000, 25000),
        (2, 10000, 10000),
    ]
    assert await _audit_actions(sessions, invoice_id) == ["purchase_order.consumed"]


async def test_two_invoice_lines_on_one_po_line_add_up(sessions: SessionFactory) -> None:
    customer, contract = await customer_and_contract(sessions)
    po_id = await _po(sessions, customer, _line(1, "10"))
    invoice_id = await _invoice(sessions, customer, contract)

    assert await _consume(sessions, invoice_id, po_id, [_take(1, "3", 3), _take(1, "4", 4)])

    assert await _invoiced(sessions, po_id) == {1: 70000}
    assert [r.amount_minor for r in await _consumptions(sessions, invoice_id)] == [7]


async def test_release_gives_the_quantity_back_once(sessions: SessionFactory) -> None:
    customer, contract = await customer_and_contract(sessions)
    po_id = await _po(sessions, customer, _line(1, "10"), _line(2, "5"))
    invoice_id = await _invoice(sessions, customer, contract)
    other = await _invoice(sessions, customer, contract)
    assert await _consume(sessions, invoice_id, po_id, [_take(1, "4", 40000), _take(2, "5", 1)])
    assert await _consume(sessions, other, po_id, [_take(1, "1", 10000)])

    async with transaction(sessions) as session:
        assert await purchase_orders.release(session, invoice_id) == 2
    async with transaction(sessions) as session:  # voided, then the release retried
        assert await purchase_orders.release(session, invoice_id) == 0

    assert await _invoiced(sessions, po_id) == {1: 10000, 2: 0}  # the other invoice's stays
    assert all(row.released_at is not None for row in await _consumptions(sessions, invoice_id))
    assert await _audit_actions(sessions, invoice_id) == [
        "purchase_order.consumed",
        "purchase_order.released",
    ]
    # a released invoice does not come back: consuming for it again takes nothing
    assert await _consume(sessions, invoice_id, po_id, [_take(1, "4", 40000)])
    assert await _invoiced(sessions, po_id) == {1: 10000, 2: 0}
    # and what it gave back is there for the next invoice
    third = await _invoice(sessions, customer, contract)
    assert await _consume(sessions, third, po_id, [_take(2, "5", 50000)])


async def test_one_line_over_its_cap_consumes_nothing_on_any_line(
    sessions: SessionFactory,
) -> None:
    customer, contract = await customer_and_contract(sessions)
    po_id = await _po(sessions, customer, _line(1, "10"), _line(2, "5"))
    invoice_id = await _invoice(sessions, customer, contract)
    taken = [_take(1, "2", 20000), _take(2, "6", 60000)]

    assert not await _consume(sessions, invoice_id, po_id, taken)  # line 2 capped at 5
    assert not await _consume(sessions, invoice_id, po_id, taken, {1: 100000, 2: 55000})

    assert await _invoiced(sessions, po_id) == {1: 0, 2: 0}
    assert await _consumptions(sessions, invoice_id) == []
    assert await _audit_actions(sessions, invoice_id) == []
    # a cap that allows it (the tolerance the matcher granted) lets the same take through
    assert await _consume(sessions, invoice_id, po_id, taken, {1: 100000, 2: 60000})
    assert await _invoiced(sessions, po_id) == {1: 20000, 2: 60000}


async def test_a_closed_po_or_a_line_it_lacks_consumes_nothing(sessions: SessionFactory) -> None:
    customer, contract = await customer_and_contract(sessions)
    po_id = await _po(sessions, customer, _line(1, "10"))
    invoice_id = await _invoice(sessions, customer, contract)

    assert not await _consume(sessions, invoice_id, po_id, [_take(1, "1", 1), _take(9, "1", 1)])
    assert not await _consume(sessions, invoice_id, "po_unknown", [_take(1, "1", 1)])
    async with transaction(sessions) as session:
        await purchase_orders.amend(
            session,
            po_id,
            PurchaseOrderAmendment(changed_by="buyer", status=POStatus.CLOSED),
            now=datetime.now(UTC),
        )
    assert not await _consume(sessions, invoice_id, po_id, [_take(1, "1", 1)])
    assert await _invoiced(sessions, po_id) == {1: 0}
    assert await _consumptions(sessions, invoice_id) == []


async def test_the_snapshot_leaves_out_the_invoice_being_matched(
    sessions: SessionFactory,
) -> None:
    customer, contract = await customer_and_contract(sessions)
    po_id = await _po(sessions, customer, _line(1, "10"), number="PO-77")
    first = await _invoice(sessions, customer, contract)
    second = await _invoice(sessions, customer, contract)
    assert await _consume(sessions, first, po_id, [_take(1, "4", 40000)])
    assert await _consume(sessions, second, po_id, [_take(1, "2.5", 25000)])

    async def seen(exclude: str | None) -> tuple[Decimal, int]:
        async with sessions() as session:
            snap = await purchase_orders.snapshot(
                session, customer.id, "PO-77", exclude_invoice_id=exclude
            )
        assert snap is not None and snap.po_id == po_id
        return snap.lines[0].invoiced_quantity, snap.invoiced_minor

    assert await seen(first) == (Decimal("2.5"), 25000)  # first matched again: not itself
    assert await seen(second) == (Decimal("4"), 40000)
    assert await seen(None) == (Decimal("6.5"), 65000)
    async with transaction(sessions) as session:
        await purchase_orders.release(session, first)
    assert await seen(None) == (Decimal("2.5"), 25000)
    assert await seen(first) == (Decimal("2.5"), 25000)  # released: nothing of its own left


async def test_the_snapshot_is_the_po_as_amended_and_received(sessions: SessionFactory) -> None:
    customer, _ = await customer_and_contract(sessions)
    other_customer, _ = await customer_and_contract(sessions)
    po_id = await _po(
        sessions,
        customer,
        _line(1, "10", tolerances={"price_over_pct": "1"}),
        _line(2, "3", 5000),
        number="4500-1",
        match_mode="3-way",
        valid_from="2026-01-01",
        valid_to="2026-12-31",
        tolerances={"price_over_pct": "5", "quantity_over_pct": "10"},
    )
    async with transaction(sessions) as session:
        await purchase_orders.amend(
            session,
            po_id,
            PurchaseOrderAmendment.model_validate(
                {"changed_by": "buyer", "change_lines": [{"line_number": 2, "quantity": "4"}]}
            ),
            now=datetime.now(UTC),
        )
        await purchase_orders.add_receipt(
            session,
            po_id,
            DeliveryReceiptCreate.model_validate(
                {
                    "kind": "goods_receipt",
                    "reference": "GRN-1",
                    "delivered_on": "2026-03-01",
                    "lines": [{"line_number": 1, "quantity": "7.25"}],
                }
            ),
            actor="warehouse",
            now=datetime.now(UTC),
        )

    async with sessions() as session:
        snap = await purchase_orders.snapshot(
            session, customer.id, "4500-1", exclude_invoice_id=None
        )
        theirs = await purchase_orders.snapshot(
            session, other_customer.id, "4500-1", exclude_invoice_id=None
        )
        elsewhere = await purchase_orders.po_exists_for_other_customer(
            session, other_customer.id, "4500-1"
        )
        own = await purchase_orders.po_exists_for_other_customer(session, customer.id, "4500-1")
    assert theirs is None and elsewhere and not own
    assert snap is not None
    assert (snap.status, snap.match_mode.value, snap.revision) == (POStatus.OPEN, "3-way", 2)
    assert (snap.valid_from, snap.valid_to) == (date(2026, 1, 1), date(2026, 12, 31))
    first, second = snap.lines
    assert (first.quantity, first.received_quantity) == (Decimal(10), Decimal("7.25"))
    assert (second.quantity, second.unit_price_minor) == (Decimal(4), 5000)
    # the PO's tolerances reach each line; the line's own limits win
    assert first.tolerances == Tolerances(price_over_pct=Decimal(1), quantity_over_pct=10)
    assert second.tolerances == Tolerances(price_over_pct=Decimal(5), quantity_over_pct=10)
    assert snap.tolerances == Tolerances(price_over_pct=Decimal(5), quantity_over_pct=10)
    assert snap.amount_minor == 10 * 10000 + 4 * 5000


async def test_a_quantity_cannot_be_amended_below_what_is_invoiced(
    sessions: SessionFactory,
) -> None:
    customer, contract = await customer_and_contract(sessions)
    po_id = await _po(sessions, customer, _line(1, "10"))
    invoice_id = await _invoice(sessions, customer, contract)
    assert await _consume(sessions, invoice_id, po_id, [_take(1, "6", 60000)])

    def lower_to(quantity: str) -> PurchaseOrderAmendment:
        return PurchaseOrderAmendment.model_validate(
            {"changed_by": "buyer", "change_lines": [{"line_number": 1, "quantity": quantity}]}
        )

    with pytest.raises(purchase_orders.PurchaseOrderRefused) as refused:
        async with transaction(sessions) as session:
            await purchase_orders.amend(session, po_id, lower_to("5.9999"), now=datetime.now(UTC))
    assert refused.value.code == "quantity_below_used"
    assert "5.9999 is below the 6 already invoiced" in refused.value.detail
    async with transaction(sessions) as session:
        _, changed = await purchase_orders.amend(
            session, po_id, lower_to("6"), now=datetime.now(UTC)
        )
    assert changed
    async with sessions() as session:
        line = await session.get(PurchaseOrderLineRow, (po_id, 1))
        po = await purchase_orders.get(session, po_id)
    assert line is not None and line.quantity_e4 == 60000
    assert po is not None and po.revision == 2


async def _race(
    db_url: str, customer: Customer, contract: Contract, sessions: SessionFactory
) -> tuple[list[bool], int]:
    """Two invoices, each on its own engine, both having seen 4 of 10 left on the line,
    consume those 4 at the same moment: the transactions overlap (each holds its own
    open a while), so the second runs against what the first has just taken."""
    number = new_id("PO")
    po_id = await _po(sessions, customer, _line(1, "10"), number=number)
    earlier = await _invoice(sessions, customer, contract)
    assert await _consume(sessions, earlier, po_id, [_take(1, "6", 60000)])
    racers = [await _invoice(sessions, customer, contract) for _ in range(2)]
    for invoice_id in racers:
        async with sessions() as session:
            snap = await purchase_orders.snapshot(
                session, customer.id, number, exclude_invoice_id=invoice_id
            )
        assert snap is not None and snap.lines[0].invoiced_quantity == 6  # both see 4 left
    start = asyncio.Event()

    async def consume(invoice_id: str) -> bool:
        engine = create_engine(db_url)
        try:
            own = session_factory(engine)
            await start.wait()
            async with transaction(own) as session:
                took = await purchase_orders.consume(
                    session, invoice_id, po_id, [_take(1, "4", 40000)], {1: to_e4(Decimal(10))}
                )
                await asyncio.sleep(0.05)  # hold the transaction open while the other runs
                return took
        finally:
            await engine.dispose()

    racing = asyncio.gather(*(consume(invoice_id) for invoice_id in racers))
    await asyncio.sleep(0.01)
    start.set()
    outcomes = list(await racing)
    for invoice_id, won in zip(racers, outcomes, strict=True):
        assert len(await _consumptions(sessions, invoice_id)) == (1 if won else 0)
    return outcomes, (await _invoiced(sessions, po_id))[1]


async def test_two_invoices_racing_for_the_last_units_cannot_both_get_them(
    db_url: str, sessions: SessionFactory
) -> None:
    customer, contract = await customer_and_contract(sessions)
    for _ in range(3):
        outcomes, invoiced_e4 = await _race(db_url, customer, contract, sessions)
        assert sorted(outcomes) == [False, True], outcomes
        assert invoiced_e4 == 100000  # 6 + 4, never 6 + 4 + 4


async def test_two_deliveries_racing_for_a_line_cannot_both_pass_its_quantity(
    db_url: str, sessions: SessionFactory
) -> None:
    customer, _ = await customer_and_contract(sessions)
    po_id = await _po(sessions, customer, _line(1, "10"))
    start = asyncio.Event()

    async def deliver(reference: str) -> str:
        engine = create_engine(db_url)
        body = DeliveryReceiptCreate.model_validate(
            {
                "kind": "goods_receipt",
                "reference": reference,
                "delivered_on": "2026-03-01",
                "lines": [{"line_number": 1, "quantity": "6"}],
            }
        )
        try:
            await start.wait()
            async with transaction(session_factory(engine)) as session:
                await purchase_orders.add_receipt(
                    session, po_id, body, actor="warehouse", now=datetime.now(UTC)
                )
                await asyncio.sleep(0.05)  # hold the transaction open while the other runs
            return "recorded"
        except purchase_orders.PurchaseOrderRefused as refused:
            return refused.code
        finally:
            await engine.dispose()

    racing = asyncio.gather(deliver("GRN-A"), deliver("GRN-B"))
    await asyncio.sleep(0.01)
    start.set()
    assert sorted(await racing) == ["over_delivery", "recorded"]
    async with sessions() as session:
        line = await session.get(PurchaseOrderLineRow, (po_id, 1))
        receipts = await purchase_orders.detail(session, po_id)
    assert line is not None and line.received_e4 == 60000
    assert receipts is not None and len(receipts.receipts) == 1
