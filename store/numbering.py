"""Gapless invoice numbers per series (``INV-2026-0001``, ``INV-2026-0002``, ...).

The counter is advanced in the same transaction that inserts the numbered invoice, so a
number is used exactly when an invoice is stored: a rolled-back or retried step leaves
no gap and never takes a second number. The series row is locked (FOR UPDATE on
PostgreSQL; SQLite transactions already begin IMMEDIATE) so concurrent invoices queue.
"""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.tables import InvoiceNumberSeries
from store.db import insert_if_absent


def series_for(prefix: str, year: int) -> str:
    return f"{prefix}-{year}"


def format_number(series: str, value: int) -> str:
    return f"{series}-{value:04d}"


async def allocate(session: AsyncSession, series: str) -> str:
    await insert_if_absent(session, InvoiceNumberSeries, series=series, last_value=0)
    row = (
        await session.exec(
            select(InvoiceNumberSeries)
            .where(InvoiceNumberSeries.series == series)
            .with_for_update()
        )
    ).one()
    row.last_value += 1
    session.add(row)
    await session.flush()
    return format_number(series, row.last_value)
