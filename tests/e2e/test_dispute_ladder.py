"""The escalation ladder end to end, on the time-skipping server with the real SMTP catcher:
an unresolved dispute climbs from the team to senior finance to a manager exactly when
each level's business days run out, tells each new owner, puts each step on its timeline
and search attributes, and flags the breach; a large dispute starts higher."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.disputes import DisputeLadder, sla_due
from schemas import search_attributes as sa
from schemas.dispute_flow import DisputeLive
from tests.support.dispute_flow import (
    dispute_groups,
    issued_invoice,
    live,
    open_dispute,
    wait_for_dispute,
)
from tests.support.stack import Stack, running_stack

LADDER = DisputeLadder()  # the defaults: 5, 3 and 2 business days
THURSDAY = 3


async def dispute(stack: Stack, dispute_id: str) -> dict[str, Any]:
    response = await stack.api.get(f"/disputes/{dispute_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def events(stack: Stack, dispute_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in (await dispute(stack, dispute_id))["events"] if e["kind"] == kind]


async def search_attributes(stack: Stack, dispute_id: str) -> tuple[int | None, bool | None]:
    described = await stack.temporal.get_workflow_handle(f"dispute-{dispute_id}").describe()
    found = described.typed_search_attributes
    return found.get(sa.DISPUTE_LEVEL), found.get(sa.DISPUTE_SLA_BREACHED)


async def mails_about(stack: Stack, person: str, number: str) -> list[dict[str, Any]]:
    return [m for m in await stack.mailbox(f"{person}@corp.test") if number in m["subject"]]


async def at_level(stack: Stack, dispute_id: str, level: int) -> DisputeLive:
    """The dispute once `level`'s owner has their turn (assigned, told, the task open)."""

    async def reached() -> DisputeLive | None:
        state = await wait_for_dispute(stack, dispute_id, "open")
        task = state.task or {}
        turn = task.get("task_id", "").split(":")[1:2] == [f"level{level}"]
        return state if state.level == level and turn else None

    return await stack.wait_for(reached)  # type: ignore[no-any-return]


def next_thursday_10(now: datetime) -> datetime:
    """10:00 UTC on the first Thursday at least a day after `now`: five business days from
    it cross a weekend (due the next Thursday, not the Tuesday five calendar days on)."""
    day = (now + timedelta(days=1)).date()
    while day.weekday() != THURSDAY:
        day += timedelta(days=1)
    return datetime.combine(day, time(10), tzinfo=UTC)


async def sleep_until(env: WorkflowEnvironment, moment: datetime) -> None:
    now = await env.get_current_time()
    assert moment > now, (moment, now)
    await env.sleep(moment - now)


async def assert_still_at(
    stack: Stack, dispute_id: str, number: str, level: int, owner: str, next_owner: str
) -> None:
    """A little before the level's SLA: nothing has moved yet."""
    state = await live(stack, dispute_id)
    assert (state.level, state.owner, state.status.value) == (level, owner, "open")
    assert await mails_about(stack, next_owner, number) == []
    assert len(await events(stack, dispute_id, "escalated")) == level - 1
    assert (await search_attributes(stack, dispute_id))[0] == level
    assert (await dispute(stack, dispute_id))["level"] == level


async def test_an_unresolved_dispute_climbs_every_level_on_time_and_flags_the_breach(
    time_skipping: WorkflowEnvironment, sqlite_url: str
) -> None:
    env = time_skipping
    async with running_stack(env.client, sqlite_url) as stack:
        await dispute_groups(stack)
        invoice_id, _ = await issued_invoice(stack, "ap@ladder.test")
        opening = next_thursday_10(await env.get_current_time())
        await sleep_until(env, opening)
        opened = await open_dispute(stack, invoice_id, lines=[1], amount_minor=30_000)
        dispute_id, number = opened["dispute_id"], opened["number"]

        # level 1: the team (ann), due five business days later, across the weekend
        state = await at_level(stack, dispute_id, 1)
        assert (state.level, state.owner, state.sla_breached) == (1, "Ann", False)
        assert await stack.wait_for(lambda: mails_about(stack, "ann", number))
        [assigned] = await events(stack, dispute_id, "owner_assigned")
        assigned_at = datetime.fromisoformat(assigned["at"])
        assert opening <= assigned_at < opening + timedelta(minutes=1)
        due_1 = sla_due(LADDER, 1, assigned_at, "UTC")
        assert due_1.date() == opening.date() + timedelta(days=7)  # Thursday to Thursday
        assert due_1.time() == assigned_at.time()
        assert state.sla_due_at == due_1
        assert await search_attributes(stack, dispute_id) == (1, None)

        await sleep_until(env, due_1 - timedelta(hours=1))
        await assert_still_at(stack, dispute_id, number, 1, "Ann", "sam")
        assert (await live(stack, dispute_id)).sla_breached is False
        assert (await dispute(stack, dispute_id))["sla_breached"] is False

        # level 2: senior finance (sam), told, on the timeline, flagged as breached
        await env.sleep(timedelta(hours=2))
        state = await at_level(stack, dispute_id, 2)
        assert state.owner == "Sam" and state.sla_breached is True
        told = await stack.wait_for(lambda: mails_about(stack, "sam", number))
        assert "Senior finance" in told[0]["subject"]
        [escalated] = await events(stack, dispute_id, "escalated")
        assert escalated["data"] == {"level": 2, "owner": "Sam"}
        escalated_at = datetime.fromisoformat(escalated["at"])
        assert due_1 <= escalated_at < due_1 + timedelta(minutes=1)

        async def breached_everywhere() -> bool:
            stored = (await dispute(stack, dispute_id))["sla_breached"]
            return stored is True and await search_attributes(stack, dispute_id) == (2, True)

        assert await stack.wait_for(breached_everywhere)
        due_2 = sla_due(LADDER, 2, escalated_at, "UTC")
        assert due_2.date() == due_1.date() + timedelta(days=5)  # Thursday to Tuesday
        assert state.sla_due_at == due_2
        assert (await dispute(stack, dispute_id))["owner_id"] == "sam"

        await sleep_until(env, due_2 - timedelta(hours=1))
        await assert_still_at(stack, dispute_id, number, 2, "Sam", "fiona")

        # level 3: a manager (fiona), the top of the ladder
        await env.sleep(timedelta(hours=2))
        state = await at_level(stack, dispute_id, 3)
        assert state.owner == "Fiona" and state.sla_breached is True
        told = await stack.wait_for(lambda: mails_about(stack, "fiona", number))
        assert "Manager" in told[0]["subject"]
        first, second = await events(stack, dispute_id, "escalated")
        assert second["data"] == {"level": 3, "owner": "Fiona"}
        escalated_at = datetime.fromisoformat(second["at"])
        assert due_2 <= escalated_at < due_2 + timedelta(minutes=1)
        due_3 = sla_due(LADDER, 3, escalated_at, "UTC")
        assert due_3.date() == due_2.date() + timedelta(days=2)  # Tuesday to Thursday
        assert state.sla_due_at == due_3

        async def at_top() -> bool:
            return await search_attributes(stack, dispute_id) == (3, True)

        assert await stack.wait_for(at_top)

        # past the top level's SLA there is nowhere left to climb: it stays, flagged
        await sleep_until(env, due_3 + timedelta(hours=2))
        state = await live(stack, dispute_id)
        assert (state.level, state.owner, state.sla_breached) == (3, "Fiona", True)
        assert len(await events(stack, dispute_id, "escalated")) == 2
        assert len(await events(stack, dispute_id, "sla_breached")) == 1
        body = await dispute(stack, dispute_id)
        assert (body["level"], body["status"], body["sla_breached"]) == (3, "open", True)
        listed = await stack.api.get("/disputes", params={"sla_breached": "true", "level": 3})
        assert [d["id"] for d in listed.json()["items"]] == [dispute_id]


async def test_a_dispute_from_the_threshold_up_starts_at_senior_finance(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url) as stack:
        await dispute_groups(stack)
        # 50 hours: line 1 is 6,000.00 + 1,200.00 VAT
        large_id, _ = await issued_invoice(stack, "ap@large.test", hours="50")
        small_id, _ = await issued_invoice(stack, "ap@small.test", hours="50")
        large = await open_dispute(stack, large_id, lines=[1], amount_minor=500_000)
        small = await open_dispute(stack, small_id, lines=[1], amount_minor=499_999)

        state = await at_level(stack, large["dispute_id"], 2)
        assert (state.level, state.owner) == (2, "Sam")
        assert await stack.wait_for(lambda: mails_about(stack, "sam", large["number"]))
        [assigned] = await events(stack, large["dispute_id"], "owner_assigned")
        assert assigned["data"] == {"level": 2, "owner": "Sam"}
        assert state.sla_due_at == sla_due(LADDER, 2, datetime.fromisoformat(assigned["at"]), "UTC")
        assert (await search_attributes(stack, large["dispute_id"]))[0] == 2
        assert await events(stack, large["dispute_id"], "escalated") == []

        state = await at_level(stack, small["dispute_id"], 1)
        assert (state.level, state.owner) == (1, "Ann")
        assert await stack.wait_for(lambda: mails_about(stack, "ann", small["number"]))
        assert await mails_about(stack, "ann", large["number"]) == []
        assert await mails_about(stack, "sam", small["number"]) == []
