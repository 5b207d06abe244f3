"""Central bank reference rates, as dated data, for statutory late-payment interest.

Each table lists a rate and the day it took effect; a rate holds until the next entry.
Values are as the Bank of England (Bank Rate) and the European Central Bank (main
refinancing operations, fixed rate) published them. They are never fetched at run time:
a new decision is a new row here, or an entry in the ``INVOICEFLOW_REFERENCE_RATES``
setting, which extends these tables.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date
from decimal import Decimal

Table = tuple[tuple[date, Decimal], ...]


def _table(*rows: tuple[str, str]) -> Table:
    return tuple((date.fromisoformat(day), Decimal(rate)) for day, rate in rows)


BANK_OF_ENGLAND: Table = _table(
    ("2020-03-19", "0.10"),
    ("2021-12-16", "0.25"),
    ("2022-02-03", "0.50"),
    ("2022-03-17", "0.75"),
    ("2022-05-05", "1.00"),
    ("2022-06-16", "1.25"),
    ("2022-08-04", "1.75"),
    ("2022-09-22", "2.25"),
    ("2022-11-03", "3.00"),
    ("2022-12-15", "3.50"),
    ("2023-02-02", "4.00"),
    ("2023-03-23", "4.25"),
    ("2023-05-11", "4.50"),
    ("2023-06-22", "5.00"),
    ("2023-08-03", "5.25"),
    ("2024-08-01", "5.00"),
    ("2024-11-07", "4.75"),
    ("2025-02-06", "4.50"),
    ("2025-05-08", "4.25"),
    ("2025-08-07", "4.00"),
    ("2025-12-18", "3.75"),
)

ECB_MAIN_REFINANCING: Table = _table(
    ("2016-03-16", "0.00"),
    ("2022-07-27", "0.50"),
    ("2022-09-14", "1.25"),
    ("2022-11-02", "2.00"),
    ("2022-12-21", "2.50"),
    ("2023-02-08", "3.00"),
    ("2023-03-22", "3.50"),
    ("2023-05-10", "3.75"),
    ("2023-06-21", "4.00"),
    ("2023-08-02", "4.25"),
    ("2023-09-20", "4.50"),
    ("2024-06-12", "4.25"),
    ("2024-09-18", "3.65"),
    ("2024-10-23", "3.40"),
    ("2024-12-18", "3.15"),
    ("2025-02-05", "2.90"),
    ("2025-03-12", "2.65"),
    ("2025-04-23", "2.40"),
    ("2025-06-11", "2.15"),
)


class NoReferenceRate(ValueError):
    """The table starts after the day asked for."""


def rate_on(table: Table, day: date) -> Decimal:
    """The rate in force at the end of `day`."""
    index = bisect_right([start for start, _ in table], day)
    if index == 0:
        raise NoReferenceRate(f"no reference rate is known for {day.isoformat()}")
    return table[index - 1][1]


def extended(table: Table, extra: list[tuple[date, Decimal]]) -> Table:
    """`table` with the setting's entries added (an entry for a day already listed wins)."""
    rows = dict(table)
    rows.update(extra)
    return tuple(sorted(rows.items()))
