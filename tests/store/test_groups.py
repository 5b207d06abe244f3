"""Who owns a new case, on SQLite and PostgreSQL (`store.groups.owner_for`): the active
members of a group take turns in the group's order, the turn counter is the database's so
cases opened at once go to different people, and a fixed owner always owns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from domain.routing import Route
from schemas.tables import ApproverGroupRow, ApproverRow
from store.db import SessionFactory, create_engine, session_factory, transaction
from store.groups import owner_for

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(db_url)
    factory = session_factory(engine)
    async with transaction(factory) as session:
        for person, active in (("ann", True), ("bob", True), ("cat", False), ("dan", True)):
            session.add(
                ApproverRow(
                    id=person,
                    name=person.title(),
                    email=f"{person}@ap.test",
                    active=active,
                    created_at=T0,
                )
            )
        await session.flush()
        session.add(
            ApproverGroupRow(
                id="grp_ap", name="AP clerks", members=["ann", "bob", "cat", "dan"], created_at=T0
            )
        )
    yield factory
    await engine.dispose()


async def next_owner(sessions: SessionFactory, route: Route[str]) -> str | None:
    async with transaction(sessions) as session:
        owner, _ = await owner_for(session, route)
    return owner.id if owner else None


async def test_active_members_take_turns_in_the_groups_order(sessions: SessionFactory) -> None:
    by_name = Route[str](group="ap CLERKS")  # a group by its name, whatever the case
    owners = [await next_owner(sessions, by_name) for _ in range(7)]
    assert owners == ["ann", "bob", "dan", "ann", "bob", "dan", "ann"]  # cat is inactive


async def test_cases_opened_at_once_go_to_different_members(sessions: SessionFactory) -> None:
    route = Route[str](group="grp_ap")
    await next_owner(sessions, route)  # the counter exists before the race
    owners = await asyncio.gather(*(next_owner(sessions, route) for _ in range(6)))
    assert sorted(owners) == ["ann", "ann", "bob", "bob", "dan", "dan"]


async def test_a_fixed_owner_always_owns_and_takes_no_turn(sessions: SessionFactory) -> None:
    fixed = Route[str](group="grp_ap", owner="dan")
    assert [await next_owner(sessions, fixed) for _ in range(3)] == ["dan"] * 3
    assert await next_owner(sessions, Route[str](group="grp_ap")) == "ann"  # still first
    assert await next_owner(sessions, Route[str](group="nobody")) is None


async def test_routes_naming_the_group_differently_share_its_turns(
    sessions: SessionFactory,
) -> None:
    """By id, by name, by the name in another case: one group, so one round robin."""
    names = ("grp_ap", "AP clerks", "ap clerks", "grp_ap", "AP CLERKS", "AP clerks")
    owners = [await next_owner(sessions, Route[str](group=name)) for name in names]
    assert owners == ["ann", "bob", "dan", "ann", "bob", "dan"]
