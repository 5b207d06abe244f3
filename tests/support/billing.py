"""Billing-run test data: contracts with billable entries, and a fresh period per test.

The dev server is shared by the whole session and a run's workflow id is
``billing-run-{period}``, so every test bills its own (past) period.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import col, func, select

from schemas.billing import BillableEntryIn
from schemas.tables import BillableEntry, Contract, Customer, Invoice
from store import billing
from store.db import SessionFactory, transaction
from tests.support.factories import customer_and_contract

_periods = itertools.count()


def unique_period() -> str:
    """A month of its own for this test (2001-01, 2001-02, ...): long past, never billed."""
    n = next(_periods)
    return f"{2001 + n // 12:04d}-{n % 12 + 1:02d}"


async def contract_with_entries(
    sessions: SessionFactory, period: str | None, *, entries: int = 2, **contract: Any
) -> tuple[Customer, Contract]:
    """A customer and contract; ``entries`` billable entries in ``period`` (none if None)."""
    customer, row = await customer_and_contract(sessions, **contract)
    if period is not None and entries:
        items = [
            BillableEntryIn(rate_code="senior", quantity=Decimal(n + 1)) for n in range(entries)
        ]
        async with transaction(sessions) as session:
            await billing.add_entries(session, row.id, period, items, datetime.now(UTC))
    return customer, row


async def period_invoices(sessions: SessionFactory, period: str) -> list[Invoice]:
    async with sessions() as session:
        return list(await session.exec(select(Invoice).where(Invoice.billing_period == period)))


async def unbilled_count(sessions: SessionFactory, contract_ids: list[str], period: str) -> int:
    async with sessions() as session:
        query = (
            select(func.count())
            .select_from(BillableEntry)
            .where(
                col(BillableEntry.contract_id).in_(contract_ids),
                BillableEntry.period == period,
                col(BillableEntry.invoice_id).is_(None),
            )
        )
        return int((await session.exec(query)).one())
