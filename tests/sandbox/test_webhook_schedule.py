"""The sandbox retries a webhook as a payment provider does: for days, further apart each
time (scaled down for tests, the same shape), then gives up; retries still due when it
stops are made after it starts again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from sandbox.settings import SandboxSettings
from sandbox.state import SandboxStore
from tests.sandbox.support import create_link, pay, receiver_and_sandbox, sandbox_settings


def test_the_default_schedule_retries_for_about_three_days_backing_off() -> None:
    settings = SandboxSettings()
    delays = settings.webhook_retry_schedule_s

    assert settings.webhook_time_scale == 1
    assert settings.webhook_attempts == 10
    assert delays[0] == 60  # not seconds: a receiver that is down for a minute still gets it
    assert delays == sorted(delays)
    assert 2.5 * 86400 < sum(delays) <= 3 * 86400


async def test_retries_wait_as_the_schedule_says_then_the_event_is_abandoned() -> None:
    # a schedule in minutes, 1,000 times faster: 0.2 s, 0.4 s, 0.8 s
    async with receiver_and_sandbox(
        webhook_retry_schedule_s=[200, 400, 800], webhook_time_scale=1e-3
    ) as (receiver, sandbox):
        receiver.fail_next = 100
        async with httpx.AsyncClient(base_url=sandbox.http_url, timeout=10) as http:
            link = await create_link(http)
            await pay(http, link["id"], 100, "pay-1")
            received = await receiver.wait_for(4)
            await asyncio.sleep(1.0)  # nothing after the last attempt
            attempts = (await http.get("/_sandbox/calls", params={"api": "webhooks"})).json()

    assert len(receiver.received) == 4
    gaps = [later.at - earlier.at for earlier, later in zip(received, received[1:], strict=False)]
    for gap, expected in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert expected <= gap < expected + 0.15, gaps
    assert [a["note"] for a in attempts] == [f"attempt {n}/4" for n in range(1, 5)]
    assert len({json.loads(r.body)["id"] for r in received}) == 1


async def test_a_retry_still_due_when_the_sandbox_stops_is_made_after_it_restarts(
    tmp_path: Path,
) -> None:
    overrides = {
        "data_dir": tmp_path,
        "webhook_retry_schedule_s": [1.0, 1.0],
        "webhook_time_scale": 1,
    }
    async with receiver_and_sandbox(**overrides) as (receiver, sandbox):
        receiver.fail_next = 1  # the API is down when the customer pays
        async with httpx.AsyncClient(base_url=sandbox.http_url, timeout=10) as http:
            link = await create_link(http)
            await pay(http, link["id"], 100, "pay-1")
        [refused] = await receiver.wait_for(1)
        event_id = json.loads(refused.body)["id"]
        # the sandbox stops before the retry is due
    store = SandboxStore(tmp_path)
    try:
        [(pending_id, attempt, _)] = store.pending_webhooks()
    finally:
        store.close()
    assert (pending_id, attempt) == (event_id, 2)

    async with receiver_and_sandbox(**overrides) as (receiver, sandbox):
        [redelivered] = await receiver.wait_for(1, within=5)
        await asyncio.sleep(0.2)
        async with httpx.AsyncClient(base_url=sandbox.http_url, timeout=10) as http:
            attempts = (await http.get("/_sandbox/calls", params={"api": "webhooks"})).json()
        assert json.loads(redelivered.body)["id"] == event_id
        assert attempts[-1]["note"] == "attempt 2/3" and attempts[-1]["status"] == 200
    store = SandboxStore(tmp_path)
    try:
        assert store.pending_webhooks() == []  # acknowledged: nothing left to send
    finally:
        store.close()


def test_a_negative_delay_is_refused() -> None:
    try:
        sandbox_settings(webhook_retry_schedule_s=[1, -1])
    except ValueError as err:
        assert "negative" in str(err)
    else:
        raise AssertionError("a negative delay was accepted")
