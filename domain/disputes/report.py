"""The disputes report (`GET /reports/disputes?from=&to=`): how many disputes, why, how
long they take, at which level they are settled, and what they cost.

The period is half-open, [start, end): a dispute opened at `end` belongs to the next
period, so consecutive periods count each dispute once. What counts where:

- opened, by reason and SLA breaches: the disputes opened in the period (a breach is
  counted with the dispute, whether it is resolved yet or not);
- cycle times, share per level and the amounts credited and written off: the disputes
  resolved in the period, because only a resolution settles them.

Cycle time is elapsed time from intake to resolution, in hours (calendar time, as the
customer experiences it; business-day SLAs are the ladder's business). The median and
the 90th percentile use linear interpolation between closest ranks (the "type 7"
definition of Hyndman & Fan: numpy's default and the spreadsheets' PERCENTILE.INC), so
the median of an even count is the mean of the middle two, as people expect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.disputes.model import DisputeReason

_FROZEN = ConfigDict(frozen=True)

_HOUR = dt.timedelta(hours=1)


class ReportCase(BaseModel):
    """One dispute as the report sees it; amounts in minor units of `currency`."""

    model_config = _FROZEN

    reason: DisputeReason
    opened_at: dt.datetime
    resolved_at: dt.datetime | None = None
    resolved_level: int | None = Field(default=None, ge=1)
    sla_breached: bool = False
    credited_minor: int = Field(default=0, ge=0)
    written_off_minor: int = Field(default=0, ge=0)
    currency: str

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.opened_at.tzinfo is None:
            raise ValueError("opened_at must be timezone-aware")
        if (self.resolved_at is None) != (self.resolved_level is None):
            raise ValueError("a resolved dispute has both resolved_at and resolved_level")
        if self.resolved_at is not None:
            if self.resolved_at.tzinfo is None:
                raise ValueError("resolved_at must be timezone-aware")
            if self.resolved_at < self.opened_at:
                raise ValueError(
                    f"resolved_at {self.resolved_at} is before opened_at {self.opened_at}"
                )
        return self


class DisputeReport(BaseModel):
    """The figures for [start, end); see the module docstring for what counts where.

    `resolved_share_by_level` holds fractions of `resolved` (summing to 1, up to float
    rounding, when anything was resolved; empty otherwise). Cycle times are None when
    nothing was resolved; they are rounded to 0.01 h. Amounts are per currency, never
    added across currencies.
    """

    model_config = _FROZEN

    start: dt.datetime
    end: dt.datetime
    opened: int
    opened_by_reason: dict[DisputeReason, int]
    sla_breaches: int
    resolved: int
    resolved_by_level: dict[int, int]
    resolved_share_by_level: dict[int, float]
    median_cycle_hours: float | None
    p90_cycle_hours: float | None
    credited_minor: dict[str, int]
    written_off_minor: dict[str, int]


def summarize(
    cases: Sequence[ReportCase], start: dt.datetime, end: dt.datetime, *, levels: int = 3
) -> DisputeReport:
    """The report for [start, end). `levels` are the ladder's: every level from 1 to it
    appears in the per-level figures, at zero when nothing was settled there."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end <= start:
        raise ValueError(f"end {end} must be after start {start}")

    opened = [case for case in cases if start <= case.opened_at < end]
    by_reason = {reason: 0 for reason in DisputeReason}
    for case in opened:
        by_reason[case.reason] += 1

    resolved = [
        case for case in cases if case.resolved_at is not None and start <= case.resolved_at < end
    ]
    by_level = {level: 0 for level in range(1, levels + 1)}
    credited: dict[str, int] = {}
    written_off: dict[str, int] = {}
    cycle_hours: list[float] = []
    for case in resolved:
        assert case.resolved_at is not None and case.resolved_level is not None  # validated
        by_level[case.resolved_level] = by_level.get(case.resolved_level, 0) + 1
        credited[case.currency] = credited.get(case.currency, 0) + case.credited_minor
        written_off[case.currency] = written_off.get(case.currency, 0) + case.written_off_minor
        cycle_hours.append((case.resolved_at - case.opened_at) / _HOUR)

    count = len(resolved)
    return DisputeReport(
        start=start,
        end=end,
        opened=len(opened),
        opened_by_reason=by_reason,
        sla_breaches=sum(1 for case in opened if case.sla_breached),
        resolved=count,
        resolved_by_level=dict(sorted(by_level.items())),
        resolved_share_by_level=(
            {level: n / count for level, n in sorted(by_level.items())} if count else {}
        ),
        median_cycle_hours=_rounded(percentile(cycle_hours, 50)),
        p90_cycle_hours=_rounded(percentile(cycle_hours, 90)),
        credited_minor=dict(sorted(credited.items())),
        written_off_minor=dict(sorted(written_off.items())),
    )


def percentile(values: Sequence[float], p: float) -> float | None:
    """The `p`th percentile (0-100) by linear interpolation between closest ranks (type
    7): rank h = (n - 1) p / 100 over the sorted values; None for no values."""
    if not 0 <= p <= 100:
        raise ValueError(f"p must be between 0 and 100, got {p}")
    if not values:
        return None
    ordered = sorted(values)
    h = (len(ordered) - 1) * p / 100
    low = int(h)
    if low + 1 >= len(ordered):
        return ordered[-1]
    return ordered[low] + (h - low) * (ordered[low + 1] - ordered[low])


def _rounded(hours: float | None) -> float | None:
    return None if hours is None else round(hours, 2)
