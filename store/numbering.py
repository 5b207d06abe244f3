"""Gapless invoice numbers per series (``INV-2026-0001``, ``INV-2026-0002``, ...).

The counter is advanced in the same transaction that inserts the numbered invoice, so a
number is used exactly when an invoice is stored: a rolled-back or retried step leaves
no gap and never takes a second number. The counter moves in one
``UPDATE ... RETURNING``, which locks the series row until the transaction ends (on
PostgreSQL; SQLite write transactions already begin IMMEDIATE), so concurrent invoices
queue.
"""

from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from schemas.tables import InvoiceNumberSeries
from store.db import insert_if_absent


def series_for(prefix: str, year: int) -> str:
    return f"{prefix}-{year}"


def format_number(series: str, value: int) -> str:
    return f"{series}-{value:04d}"


_ADVANCE = (
    update(InvoiceNumberSeries)
    .where(col(InvoiceNumberSeries.series) == bindparam("series_key"))
    .values(last_value=col(InvoiceNumberSeries.last_value) + 1)
    .returning(col(InvoiceNumberSeries.last_value))
)


async def allocate(session: AsyncSession, series: str) -> str:
    """The series' next number; the series starts the first time it is used."""
    connection = await session.connection()
    value = (await connection.execute(_ADVANCE, {"series_key": series})).scalar()
    if value is None:  # a new series (a new year or prefix)
        await insert_if_absent(session, InvoiceNumberSeries, series=series, last_value=0)
        value = (await connection.execute(_ADVANCE, {"series_key": series})).scalar_one()
    return format_number(series, value)
