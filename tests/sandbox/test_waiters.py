"""RecordWaiters: wake-ups without polling, and nothing left behind by those who gave up."""

from __future__ import annotations

import asyncio

from sandbox.waiters import RecordWaiters


async def test_every_waiter_wakes_on_notify_and_the_entry_goes() -> None:
    waiters = RecordWaiters()
    records: list[str] = []
    waiting = [
        asyncio.create_task(waiters.wait_for("link", "INV-1", lambda: list(records), 5))
        for _ in range(3)
    ]
    await asyncio.sleep(0.05)
    assert len(waiters) == 1 and not any(task.done() for task in waiting)

    records.append("plink_1")
    waiters.notify("link", "INV-1")
    answers = await asyncio.wait_for(asyncio.gather(*waiting), 2)

    assert answers == [["plink_1"]] * 3
    assert len(waiters) == 0


async def test_a_waiter_that_times_out_or_is_cancelled_leaves_nothing_behind() -> None:
    waiters = RecordWaiters()
    assert await waiters.wait_for("link", "INV-3", list, 0.05) == []
    assert len(waiters) == 0

    cancelled = asyncio.create_task(waiters.wait_for("link", "INV-4", list, 5))
    await asyncio.sleep(0.05)
    assert len(waiters) == 1
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    assert len(waiters) == 0


async def test_one_waiter_giving_up_does_not_remove_another_still_waiting() -> None:
    waiters = RecordWaiters()
    records: list[str] = []
    patient = asyncio.create_task(waiters.wait_for("link", "INV-2", lambda: list(records), 5))
    await asyncio.sleep(0.05)

    assert await waiters.wait_for("link", "INV-2", list, 0.05) == []
    assert len(waiters) == 1 and not patient.done()

    waiters.notify("link", "INV-2")  # a wake-up with nothing to read: it waits on
    await asyncio.sleep(0.05)
    assert not patient.done() and len(waiters) == 1

    records.append("plink_2")
    waiters.notify("link", "INV-2")
    assert await asyncio.wait_for(patient, 2) == ["plink_2"]
    assert len(waiters) == 0
