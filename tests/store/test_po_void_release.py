"""A voided invoice gives back what it consumed of its PO, once however often the void is
applied, on SQLite and PostgreSQL; and an adjusted invoice may take its original's
consumption before the original is voided (the two processes run side by side)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from schemas.invoice import InvoiceStatus
from store import invoices, purchase_orders
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.store.test_purchase_orders import (
    _audit_actions,
    _consume,
    _consumptions,
    _invoice,
    _invoiced,
    _line,
    _po,
    _take,
)
from tests.support.factories import customer_and_contract


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def _void(sessions: SessionFactory, invoice_id: str, step_key: str) -> None:
    async with transaction(sessions) as session:
        await invoices.set_status(
            session, invoice_id, InvoiceStatus.VOID, step_key=step_key, actor="dispute:D-1"
        )


async def test_a_voided_invoice_gives_its_consumption_back_once(sessions: SessionFactory) -> None:
    customer, contract = await customer_and_contract(sessions)
    po_id = await _po(sessions, customer, _line(1, "10"), _line(2, "5"))
    voided = await _invoice(sessions, customer, contract)
    other = await _invoice(sessions, customer, contract)
    assert await _consume(sessions, voided, po_id, [_take(1, "4", 40000), _take(2, "5", 50000)])
    assert await _consume(sessions, other, po_id, [_take(1, "1", 10000)])

    await _void(sessions, voided, "void:dsp_1")
    assert await _invoiced(sessions, po_id) == {1: 10000, 2: 0}  # the other invoice's stays
    await _void(sessions, voided, "void:dsp_1")  # the void activity retried
    await _void(sessions, voided, "void:dsp_2")  # voided again by another step

    assert await _invoiced(sessions, po_id) == {1: 10000, 2: 0}
    assert all(row.released_at is not None for row in await _consumptions(sessions, voided))
    actions = await _audit_actions(sessions, voided)
    assert actions.count("purchase_order.released") == 1, actions
    # what it gave back is there for the next invoice, to the last unit
    third = await _invoice(sessions, customer, contract)
    assert await _consume(sessions, third, po_id, [_take(1, "9", 90000), _take(2, "5", 50000)])
    assert await _invoiced(sessions, po_id) == {1: 100000, 2: 50000}


async def test_a_replacement_takes_its_originals_consumption_before_the_void(
    sessions: SessionFactory,
) -> None:
    """The replacement's snapshot leaves out the original it replaces; the original's
    release (as the match stage does before consuming) lets it take the PO's last units,
    and the void afterwards gives back nothing more."""
    customer, contract = await customer_and_contract(sessions)
    po_id = await _po(sessions, customer, _line(1, "10"), number="PO-88")
    original = await _invoice(sessions, customer, contract)
    replacement = await _invoice(sessions, customer, contract)
    assert await _consume(sessions, original, po_id, [_take(1, "10", 100000)])  # used up

    async with sessions() as session:
        plain = await purchase_orders.snapshot(
            session, customer.id, "PO-88", exclude_invoice_id=replacement
        )
        as_replacement = await purchase_orders.snapshot(
            session,
            customer.id,
            "PO-88",
            exclude_invoice_id=replacement,
            replaced_invoice_id=original,
        )
    assert plain is not None and as_replacement is not None
    assert (plain.lines[0].invoiced_quantity, plain.invoiced_minor) == (Decimal(10), 100000)
    assert (as_replacement.lines[0].invoiced_quantity, as_replacement.invoiced_minor) == (0, 0)

    # without the original's release the PO has nothing left for it
    assert not await _consume(sessions, replacement, po_id, [_take(1, "7", 70000)])
    async with transaction(sessions) as session:
        assert await purchase_orders.release(session, original) == 1
    assert await _consume(sessions, replacement, po_id, [_take(1, "7", 70000)])
    await _void(sessions, original, "void:dsp_1")

    assert await _invoiced(sessions, po_id) == {1: 70000}  # the replacement's only
    assert (await _audit_actions(sessions, original)).count("purchase_order.released") == 1
    [row] = await _consumptions(sessions, replacement)
    assert (row.quantity_e4, row.released_at) == (70000, None)
