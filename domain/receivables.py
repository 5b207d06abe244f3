"""Receivables figures for the ops dashboards: aging buckets, DSO, and the statistics of a
cycle-time distribution. Pure functions: the caller hands in the dates.

Aging counts days past the **due date** (not the issue date): an invoice due today or
later is "current", one due yesterday is 1 day past due. DSO is the standard (period)
method, per currency, over the 90 days up to the as-of date:

    DSO = open receivables at the as-of date / amount invoiced in the 90 days × 90

It is undefined (None) for a currency that invoiced nothing in the window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

BUCKETS = ("current", "1-30", "31-60", "61-90", "over-90")
BUCKET_LABELS = {
    "current": "Current",
    "1-30": "1–30 days",
    "31-60": "31–60 days",
    "61-90": "61–90 days",
    "over-90": "Over 90 days",
}
DSO_WINDOW_DAYS = 90


def days_past_due(due: date | None, as_of: date) -> int:
    """0 for an invoice not yet due (or with no due date)."""
    return 0 if due is None else max(0, (as_of - due).days)


def bucket_of(due: date | None, as_of: date) -> str:
    days = days_past_due(due, as_of)
    if days == 0:
        return "current"
    if days <= 30:
        return "1-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    return "over-90"


def dso(open_minor: int, invoiced_minor: int, window_days: int = DSO_WINDOW_DAYS) -> Decimal | None:
    """Days sales outstanding to one decimal (banker's rounding), or None with no sales."""
    if invoiced_minor <= 0:
        return None
    days = Decimal(open_minor) / Decimal(invoiced_minor) * window_days
    return days.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (share 0.5: the median; 0.9: p90) of `values`.

    Nearest rank, not interpolation: the figure is always one of the observed cycle
    times, so an operator can find the invoice behind it.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def histogram(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Counts per bin: [edges[i], edges[i+1]) for each i, the last bin open-ended."""
    counts = [0] * len(edges)
    for value in values:
        index = 0
        for i, edge in enumerate(edges):
            if value >= edge:
                index = i
        counts[index] += 1
    return counts
