"""The escalation ladder: who holds a dispute at each level, for how many business days,
and at which level a large dispute starts.

Level 1 is the team, level 2 senior finance, level 3 a manager. A level that runs out of
business days escalates to the next; the top level's due date is its SLA, and passing it
is a breach. The clock stops while we wait on the customer (`paused_sla_due`).

Thresholds (`start_at`) are in minor units of the invoice's currency, compared as they
are: 500_000 is GBP 5,000.00 or EUR 5,000.00, but JPY 500,000 and KWD 500.000. There are
no exchange rates in the domain; a business invoicing in several currencies with very
different minor units sets thresholds it means for its main currency, or per currency by
keeping one ladder per currency in its settings.
"""

from __future__ import annotations

import datetime as dt
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.tasks.timing import add_business_days

_FROZEN = ConfigDict(frozen=True)

MAX_LEVEL = 3


class LadderLevel(BaseModel):
    """One rung: its people (a group of the approval policy, by id or by name) and how
    many business days they have before the dispute escalates."""

    model_config = _FROZEN

    level: int = Field(ge=1, le=MAX_LEVEL)
    name: str = Field(min_length=1)
    group: str = Field(min_length=1)
    sla_business_days: int = Field(ge=1, le=60)  # a quarter of a year: more is a typo


class LevelStart(BaseModel):
    """A dispute of `from_amount_minor` or more (minor units of the invoice currency)
    starts at `level`."""

    model_config = _FROZEN

    level: int = Field(ge=2, le=MAX_LEVEL)
    from_amount_minor: int = Field(gt=0)


DEFAULT_LEVELS = (
    LadderLevel(level=1, name="Team", group="Accounts receivable", sla_business_days=5),
    LadderLevel(level=2, name="Senior finance", group="Senior finance", sla_business_days=3),
    LadderLevel(level=3, name="Manager", group="Finance managers", sla_business_days=2),
)
DEFAULT_START_AT = (
    LevelStart(level=2, from_amount_minor=500_000),
    LevelStart(level=3, from_amount_minor=2_500_000),
)


class DisputeLadder(BaseModel):
    """The ladder's levels (numbered 1..n, n at most 3, in order) and the amounts at which
    a dispute starts above level 1 (a higher level needs a higher amount)."""

    model_config = _FROZEN

    levels: tuple[LadderLevel, ...] = Field(default=DEFAULT_LEVELS, min_length=1)
    start_at: tuple[LevelStart, ...] = DEFAULT_START_AT

    @model_validator(mode="after")
    def _check(self) -> Self:
        numbers = [level.level for level in self.levels]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"levels must be numbered 1, 2, ... in order; got {numbers}")
        starts = sorted(self.start_at, key=lambda start: start.level)
        start_levels = [start.level for start in starts]
        if len(set(start_levels)) != len(start_levels):
            raise ValueError(f"start_at names a level more than once: {start_levels}")
        for start in starts:
            if start.level > len(numbers):
                raise ValueError(
                    f"start_at names level {start.level}; the ladder has {len(numbers)}"
                )
        amounts = [start.from_amount_minor for start in starts]
        if amounts != sorted(set(amounts)):
            raise ValueError(
                f"a higher start level needs a higher amount; got {amounts} for {start_levels}"
            )
        return self

    def level(self, number: int) -> LadderLevel:
        for level in self.levels:
            if level.level == number:
                return level
        raise ValueError(f"the ladder has no level {number} (levels 1-{len(self.levels)})")

    @property
    def top(self) -> int:
        return len(self.levels)


def start_level(ladder: DisputeLadder, amount_minor: int) -> int:
    """The level a dispute of `amount_minor` (the disputed amount, in minor units of the
    invoice currency) starts at: the highest whose threshold it reaches, else 1."""
    reached = [s.level for s in ladder.start_at if amount_minor >= s.from_amount_minor]
    return max(reached, default=1)


def next_level(ladder: DisputeLadder, level: int) -> int | None:
    """The level an unresolved dispute escalates to; None at the top (a breach instead)."""
    ladder.level(level)  # raises for a level the ladder does not have
    return level + 1 if level < ladder.top else None


def sla_due(
    ladder: DisputeLadder, level: int, opened_at: dt.datetime, time_zone: str
) -> dt.datetime:
    """When `level` must have resolved a dispute that reached it at `opened_at`: the
    level's business days later, at the same local time, in `time_zone` (the owner
    group's, or the business's). A start on a weekend counts from Monday 09:00 local;
    see `domain.tasks.timing.add_business_days`. Raises `UnknownTimeZone`."""
    return add_business_days(opened_at, ladder.level(level).sla_business_days, time_zone)


def paused_sla_due(
    due_at: dt.datetime, paused_at: dt.datetime, resumed_at: dt.datetime
) -> dt.datetime:
    """The due date after a wait on the customer: the clock stops while we wait.

    The due date moves by the elapsed time waited (calendar time, not business time: a
    wait is the customer's, and counting it as it passed is what the customer can check
    on the timeline). A wait that starts at or after the due date moves nothing: asking
    the customer after a breach does not undo it. A wait that starts before the due date
    moves it by the whole wait, even one that lasts past the old due date (the clock was
    stopped the whole time).
    """
    if resumed_at < paused_at:
        raise ValueError(f"resumed_at {resumed_at} is before paused_at {paused_at}")
    if paused_at >= due_at:
        return due_at
    return due_at + (resumed_at - paused_at)
