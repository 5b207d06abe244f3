"""Tests for domain.disputes.ladder: start levels, SLA due dates, escalation, the paused
clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.disputes import (
    DisputeLadder,
    LadderLevel,
    LevelStart,
    next_level,
    paused_sla_due,
    sla_due,
    start_level,
)
from domain.tasks import UnknownTimeZone

LADDER = DisputeLadder()
MONDAY = datetime(2026, 1, 12, 11, 0, tzinfo=UTC)


def test_the_default_ladder() -> None:
    assert [(lv.level, lv.name, lv.group, lv.sla_business_days) for lv in LADDER.levels] == [
        (1, "Team", "Accounts receivable", 5),
        (2, "Senior finance", "Senior finance", 3),
        (3, "Manager", "Finance managers", 2),
    ]
    assert [(s.level, s.from_amount_minor) for s in LADDER.start_at] == [
        (2, 500_000),
        (3, 2_500_000),
    ]


def test_large_disputes_start_higher_at_or_above_the_threshold() -> None:
    assert start_level(LADDER, 1) == 1
    assert start_level(LADDER, 499_999) == 1
    assert start_level(LADDER, 500_000) == 2
    assert start_level(LADDER, 2_499_999) == 2
    assert start_level(LADDER, 2_500_000) == 3
    assert start_level(DisputeLadder(start_at=()), 10**12) == 1


def test_each_level_escalates_to_the_next_and_the_top_to_none() -> None:
    assert next_level(LADDER, 1) == 2
    assert next_level(LADDER, 2) == 3
    assert next_level(LADDER, 3) is None
    two = DisputeLadder(levels=LADDER.levels[:2], start_at=LADDER.start_at[:1])
    assert next_level(two, 2) is None
    with pytest.raises(ValueError, match="no level 4"):
        next_level(LADDER, 4)


def test_sla_due_counts_each_levels_business_days_in_the_zone() -> None:
    assert sla_due(LADDER, 1, MONDAY, "Europe/London") == MONDAY + timedelta(days=7)
    assert sla_due(LADDER, 2, MONDAY, "Europe/London") == MONDAY + timedelta(days=3)
    thursday = MONDAY + timedelta(days=3)
    assert sla_due(LADDER, 3, thursday, "Europe/London") == thursday + timedelta(days=4)
    with pytest.raises(UnknownTimeZone):
        sla_due(LADDER, 1, MONDAY, "Nowhere/Special")


def test_a_dispute_opened_at_the_weekend_counts_from_monday_morning() -> None:
    saturday = datetime(2026, 1, 17, 20, 0, tzinfo=UTC)
    assert sla_due(LADDER, 1, saturday, "Europe/London") == datetime(2026, 1, 26, 9, 0, tzinfo=UTC)


def test_the_clock_stops_while_waiting_on_the_customer() -> None:
    due = MONDAY + timedelta(days=7)
    asked = MONDAY + timedelta(days=1)
    answered = asked + timedelta(days=2, hours=3)
    assert paused_sla_due(due, asked, answered) == due + timedelta(days=2, hours=3)
    # a wait that outlasts the old due date still moves it by the whole wait
    assert paused_sla_due(due, asked, due + timedelta(days=1)) == due + timedelta(days=7)


def test_asking_the_customer_after_a_breach_does_not_undo_it() -> None:
    due = MONDAY
    assert paused_sla_due(due, due, due + timedelta(days=2)) == due
    assert paused_sla_due(due, due + timedelta(hours=1), due + timedelta(days=2)) == due
    with pytest.raises(ValueError, match="before paused_at"):
        paused_sla_due(due, MONDAY - timedelta(hours=1), MONDAY - timedelta(hours=2))


def test_a_ladder_loads_from_settings() -> None:
    ladder = DisputeLadder.model_validate(
        {
            "levels": [
                {"level": 1, "name": "Team", "group": "ar", "sla_business_days": 10},
                {"level": 2, "name": "Boss", "group": "boss", "sla_business_days": 1},
            ],
            "start_at": [{"level": 2, "from_amount_minor": 100}],
        }
    )
    assert ladder.level(1).sla_business_days == 10
    assert start_level(ladder, 100) == 2
    assert ladder.top == 2


@pytest.mark.parametrize(
    ("levels", "start_at", "message"),
    [
        ((2, 1), (), "numbered 1, 2"),
        ((1, 3), (), "numbered 1, 2"),
        ((), (), "numbered 1, 2|at least"),
        ((1, 2), ((3, 100),), "the ladder has 2"),
        ((1, 2, 3), ((2, 500), (3, 500)), "higher amount"),
        ((1, 2, 3), ((2, 900), (3, 500)), "higher amount"),
        ((1, 2, 3), ((2, 500), (2, 900)), "more than once"),
    ],
)
def test_an_incoherent_ladder_is_refused(
    levels: tuple[int, ...], start_at: tuple[tuple[int, int], ...], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        DisputeLadder(
            levels=tuple(
                LadderLevel(level=n, name=f"L{n}", group=f"g{n}", sla_business_days=1)
                for n in levels
            ),
            start_at=tuple(LevelStart(level=lv, from_amount_minor=a) for lv, a in start_at),
        )


def test_a_level_start_at_level_one_is_refused() -> None:
    with pytest.raises(ValidationError):
        LevelStart(level=1, from_amount_minor=1)
