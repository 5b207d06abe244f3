"""Tests for domain.disputes.report: the disputes report on a known data set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.disputes import DisputeReason, ReportCase, percentile, summarize

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)
H = timedelta(hours=1)


def case(
    reason: DisputeReason,
    opened: datetime,
    hours: float | None = None,
    level: int | None = None,
    *,
    breached: bool = False,
    credited: int = 0,
    written_off: int = 0,
    currency: str = "GBP",
) -> ReportCase:
    return ReportCase(
        reason=reason,
        opened_at=opened,
        resolved_at=None if hours is None else opened + hours * H,
        resolved_level=level,
        sla_breached=breached,
        credited_minor=credited,
        written_off_minor=written_off,
        currency=currency,
    )


P = DisputeReason.PRICING
Q = DisputeReason.QUANTITY
D = START + timedelta(days=2)

CASES = [
    # opened and resolved in March: cycle times 10, 20, 30, 40, 100 hours
    case(P, D, 10, 1, credited=5_000),
    case(P, D, 20, 1, written_off=300),
    case(Q, D, 30, 2, credited=12_000, currency="EUR"),
    case(Q, D, 40, 1, breached=True),
    case(DisputeReason.TAX, D, 100, 3, breached=True, credited=1_000),
    # opened in March, still open, breached
    case(P, D, breached=True),
    # opened in February, resolved in March (counts for resolution, not for opening)
    case(P, START - timedelta(days=3), 24 * 3 + 12, 2, breached=True, credited=700),
    # opened in March, resolved in April: opening only
    case(Q, END - timedelta(days=1), 48, 1, credited=99_999),
    # outside the period altogether, on both sides
    case(P, START - timedelta(days=40), 5, 1, credited=1),
    case(P, END, 5, 1, credited=1),  # the period is half-open: END is the next period's
]


def test_the_report_on_a_known_data_set() -> None:
    report = summarize(CASES, START, END)
    assert report.opened == 7
    assert report.opened_by_reason == {
        DisputeReason.PRICING: 3,
        DisputeReason.QUANTITY: 3,
        DisputeReason.QUALITY: 0,
        DisputeReason.NOT_RECEIVED: 0,
        DisputeReason.DUPLICATE: 0,
        DisputeReason.TAX: 1,
        DisputeReason.OTHER: 0,
    }
    assert report.sla_breaches == 3  # of the disputes opened in March
    assert report.resolved == 6
    # resolved in March: 10, 20, 30, 40, 84, 100 hours
    assert report.median_cycle_hours == 35.0  # mean of the middle two (type 7)
    assert report.p90_cycle_hours == 92.0  # rank 4.5: 84 + 0.5 x (100 - 84)
    assert report.resolved_by_level == {1: 3, 2: 2, 3: 1}
    assert report.resolved_share_by_level == pytest.approx({1: 0.5, 2: 1 / 3, 3: 1 / 6})
    assert sum(report.resolved_share_by_level.values()) == pytest.approx(1.0)
    assert report.credited_minor == {"EUR": 12_000, "GBP": 6_700}
    assert report.written_off_minor == {"EUR": 0, "GBP": 300}


def test_an_empty_period_has_zeros_and_no_cycle_times() -> None:
    report = summarize(CASES, END + timedelta(days=30), END + timedelta(days=60))
    assert (report.opened, report.resolved, report.sla_breaches) == (0, 0, 0)
    assert report.median_cycle_hours is None and report.p90_cycle_hours is None
    assert report.resolved_by_level == {1: 0, 2: 0, 3: 0}
    assert report.resolved_share_by_level == {}
    assert report.credited_minor == {} and report.written_off_minor == {}


def test_the_report_serializes_for_the_api() -> None:
    body = summarize(CASES, START, END).model_dump(mode="json")
    assert body["opened_by_reason"]["pricing"] == 3
    assert body["resolved_share_by_level"]["1"] == 0.5


def test_levels_beyond_the_default_ladder_still_count() -> None:
    report = summarize([case(P, D, 1, 4)], START, END, levels=2)
    assert report.resolved_by_level == {1: 0, 2: 0, 4: 1}
    assert report.resolved_share_by_level == {1: 0.0, 2: 0.0, 4: 1.0}


def test_cycle_times_are_rounded_to_hundredths_of_an_hour() -> None:
    report = summarize([case(P, D, 1 / 3, 1)], START, END)
    assert report.median_cycle_hours == 0.33


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([7.0], 90, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 50, 3.0),
        ([15.0, 20.0, 35.0, 40.0, 50.0], 90, 46.0),  # numpy.percentile(..., 90)
        ([3.0, 1.0, 2.0], 0, 1.0),
        ([3.0, 1.0, 2.0], 100, 3.0),
    ],
)
def test_percentile_interpolates_between_closest_ranks(
    values: list[float], p: float, expected: float | None
) -> None:
    assert percentile(values, p) == (None if expected is None else pytest.approx(expected))


def test_bad_periods_and_cases_are_refused() -> None:
    with pytest.raises(ValueError, match="after start"):
        summarize([], END, START)
    with pytest.raises(ValueError, match="aware"):
        summarize([], datetime(2026, 3, 1), datetime(2026, 4, 1))
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)
    with pytest.raises(ValidationError, match="both resolved_at and resolved_level"):
        ReportCase(reason=P, opened_at=D, resolved_at=D, currency="GBP")
    with pytest.raises(ValidationError, match="before opened_at"):
        ReportCase(reason=P, opened_at=D, resolved_at=D - H, resolved_level=1, currency="GBP")
    with pytest.raises(ValidationError, match="aware"):
        ReportCase(reason=P, opened_at=datetime(2026, 3, 2), currency="GBP")
