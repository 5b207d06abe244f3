"""`MatchingActivities.load`'s duplicate candidates on SQLite and PostgreSQL: an adjusted
invoice is never a possible duplicate of the original it replaces (issued still, its void
not run yet, or voided), and a VOID invoice is no candidate for any invoice (it is no
longer owed); an invoice still owed with the same lines and total still is one.

Next to `test_matching_record.py`, whose invoices and PO these tests share, and driven as
the match stage drives the activity: `load`, then the pure `match_invoice` on its context.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from activities.matching import MatchingActivities
from domain.matching.model import MatchOutcome, MatchReasonCode
from schemas.invoice import InvoiceStatus
from schemas.matching import LoadMatchInput
from schemas.tables import Contract, Customer, Invoice
from store.db import SessionFactory, create_engine, session_factory, transaction
from tests.store.test_matching_record import PO_PRICE, _activities, _invoice, _match, _po
from tests.support.factories import customer_and_contract


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def _set(sessions: SessionFactory, invoice_id: str, **fields: Any) -> None:
    async with transaction(sessions) as session:
        invoice = await session.get(Invoice, invoice_id)
        assert invoice is not None
        for name, value in fields.items():
            setattr(invoice, name, value)
        session.add(invoice)


async def _same_lines(
    sessions: SessionFactory, customer: Customer, contract: Contract, po_id: str, status: str
) -> str:
    """An invoice of 4 hours on the PO, as every invoice of these tests bills (one lines
    key, one total), in `status`."""
    invoice_id = await _invoice(sessions, customer, contract, po_id, "4", PO_PRICE)
    await _set(sessions, invoice_id, status=status)
    return invoice_id


async def _candidates(activities: MatchingActivities, invoice_id: str) -> list[str]:
    context = await activities.load(LoadMatchInput(invoice_id=invoice_id))
    return [recent.invoice_id for recent in context.recent]


async def _duplicate_reasons(activities: MatchingActivities, invoice_id: str) -> list[str]:
    result = _match(await activities.load(LoadMatchInput(invoice_id=invoice_id)))
    return [r.detail for r in result.reasons if r.code is MatchReasonCode.POSSIBLE_DUPLICATE]


@pytest.mark.parametrize("original_status", [InvoiceStatus.ISSUED, InvoiceStatus.VOID])
async def test_an_adjusted_invoice_is_no_possible_duplicate_of_the_invoice_it_replaces(
    sessions: SessionFactory, original_status: InvoiceStatus
) -> None:
    """The adjustment changed only the due date: same lines, total and PO as the original.
    The replacement's process runs beside the original's, so it may be matched before the
    original is voided (ISSUED) or after (VOID): a candidate in neither case."""
    customer, contract = await customer_and_contract(sessions)
    po_id = await _po(sessions, customer, "20")
    original = await _same_lines(sessions, customer, contract, po_id, original_status.value)
    replacement = await _same_lines(sessions, customer, contract, po_id, "PENDING")
    await _set(sessions, replacement, replaces_invoice_id=original)
    activities = _activities(sessions)

    assert await _candidates(activities, replacement) == []
    result = _match(await activities.load(LoadMatchInput(invoice_id=replacement)))
    assert result.outcome is MatchOutcome.MATCHED, result.reasons


async def test_an_invoice_still_owed_with_the_same_lines_is_still_a_possible_duplicate(
    sessions: SessionFactory,
) -> None:
    """The replaced invoice is left out, not the check: another issued invoice billing the
    same is a possible duplicate of the replacement, as of any invoice."""
    customer, contract = await customer_and_contract(sessions)
    po_id = await _po(sessions, customer, "20")
    original = await _same_lines(sessions, customer, contract, po_id, "ISSUED")
    other = await _same_lines(sessions, customer, contract, po_id, "ISSUED")
    replacement = await _same_lines(sessions, customer, contract, po_id, "PENDING")
    await _set(sessions, replacement, replaces_invoice_id=original)
    activities = _activities(sessions)

    assert await _candidates(activities, replacement) == [other]
    [reason] = await _duplicate_reasons(activities, replacement)
    assert other in reason and original not in reason


async def test_a_void_invoice_is_no_possible_duplicate_of_any_invoice(
    sessions: SessionFactory,
) -> None:
    """A VOID invoice is no longer owed: a new invoice billing what it billed (not its
    replacement) bills it once, so it is matched, not held as a possible duplicate."""
    customer, contract = await customer_and_contract(sessions)
    po_id = await _po(sessions, customer, "20")
    voided = await _same_lines(sessions, customer, contract, po_id, "VOID")
    new = await _same_lines(sessions, customer, contract, po_id, "PENDING")
    activities = _activities(sessions)

    assert voided not in await _candidates(activities, new)
    assert await _duplicate_reasons(activities, new) == []
