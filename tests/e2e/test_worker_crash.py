"""A worker killed with SIGKILL while provider calls are in flight: once another worker
starts, every invoice it left behind closes within seconds (heartbeat timeouts, a short
sticky queue), and no customer, provider or ledger sees an effect twice."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client

from schemas.ids import invoice_workflow_id
from tests.e2e.test_failures import start_invoice
from tests.support.stack import Stack, running_stack
from tests.support.worker_process import kill, start_worker
from workflows.options import PROVIDER_HEARTBEAT

RECOVERY_BOUND_S = 20.0
CALL_LATENCY_MS = 2500  # every provider call takes this long until the worker is killed


async def started_activities(stack: Stack, invoice_ids: list[str]) -> Counter[str]:
    """How many attempts of each activity type a worker holds right now."""
    running: Counter[str] = Counter()
    for invoice_id in invoice_ids:
        handle = stack.temporal.get_workflow_handle(invoice_workflow_id(invoice_id))
        described = await handle.describe()
        for pending in described.raw_description.pending_activities:
            if pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
                running[pending.activity_type.name] += 1
    return running


def worker_errors(log: Path) -> list[str]:
    """The distinct failures the worker logged (a workflow task failing, for one)."""
    lines = log.read_text(errors="replace").splitlines()
    failing = (re.search(r'message: "([^"]*)"', line) for line in lines if "Failing" in line)
    return sorted({found.group(1) for found in failing if found})


async def pay_and_close(stack: Stack, invoice_id: str) -> float:
    """Wait for the invoice to be issued, pay it in full, wait for CLOSED: when it closed."""
    issued = await stack.wait_until_awaiting_payment(invoice_id, timeout=RECOVERY_BOUND_S + 10)
    link_id = issued["live"]["payment_url"].rstrip("/").rsplit("/", 1)[-1]
    await stack.pay(link_id, issued["invoice"]["total_minor"])
    await stack.wait_for_status(invoice_id, "CLOSED", timeout=RECOVERY_BOUND_S + 10)
    return asyncio.get_running_loop().time()


async def test_invoices_in_flight_when_the_worker_is_killed_close_within_seconds_of_a_restart(
    temporal: Client, sqlite_url: str, tmp_path: Path
) -> None:
    loop = asyncio.get_running_loop()
    async with running_stack(temporal, sqlite_url, run_worker=False) as stack:
        settings = stack.settings.model_copy(
            update={"temporal_address": temporal.service_client.config.target_host}
        )
        log = tmp_path / "worker.log"
        slow = {"api": "*", "latency_ms": CALL_LATENCY_MS}
        (await stack.sandbox.post("/_sandbox/faults", json=slow)).raise_for_status()
        worker = await start_worker(settings, log)
        try:
            invoice_ids = []
            for n in range(4):  # staggered, so that some deliver while others post
                invoice_ids.append((await start_invoice(stack, f"crash{n}@acme.test"))[1])
                if n == 0:  # the stagger counts from a worker that runs, not one starting
                    await stack.wait_for(
                        lambda: started_activities(stack, invoice_ids), timeout=90, interval=0.05
                    )
                await asyncio.sleep(1.0)

            async def delivering_and_posting() -> bool:
                running = await started_activities(stack, invoice_ids)
                return running["invoice.deliver"] > 0 and running["accounting.post_invoice"] > 0

            # a precondition, not the bound measured: a loaded machine starts the worker late
            await stack.wait_for(delivering_and_posting, timeout=90, interval=0.05)
            await kill(worker)
            (await stack.sandbox.delete("/_sandbox/faults")).raise_for_status()
            await asyncio.sleep(1.0)  # the worker is down for a moment

            restarted_at = loop.time()
            worker = await start_worker(settings, log)
            try:
                closed_at = await asyncio.gather(*(pay_and_close(stack, i) for i in invoice_ids))
            except AssertionError as stuck:
                raise AssertionError(f"{stuck}; the worker said: {worker_errors(log)}") from stuck
        finally:
            await kill(worker)

        recovery = max(closed_at) - restarted_at
        assert recovery < RECOVERY_BOUND_S, (recovery, log.read_text()[-3000:])

        # every effect once, counted where it lands
        links = Counter(
            link["reference"] for link in await stack.provider_records("/payments/v1/links")
        )
        posted = Counter(
            i["reference"] for i in await stack.provider_records("/accounting/v1/invoices")
        )
        payments = Counter(
            p["invoice_reference"] for p in await stack.provider_records("/accounting/v1/payments")
        )
        assert links == posted == payments == Counter(invoice_ids)
        for n in range(4):  # the invoice (and the receipt), each once: no message again
            subjects = [m["subject"] for m in await stack.mailbox(f"crash{n}@acme.test")]
            assert subjects and len(subjects) == len(set(subjects)), subjects


async def test_a_provider_call_slower_than_the_heartbeat_timeout_is_not_cut_short(
    temporal: Client, sqlite_url: str
) -> None:
    """The heartbeat timeout catches a dead worker, not a slow provider: a live worker
    beats all the while it waits."""
    slower = int(PROVIDER_HEARTBEAT.total_seconds() * 1000) + 1500
    async with running_stack(temporal, sqlite_url) as stack:
        slow = {"api": "accounting", "latency_ms": slower}
        (await stack.sandbox.post("/_sandbox/faults", json=slow)).raise_for_status()
        _, invoice_id = await start_invoice(stack, "slow-ledger@acme.test")

        handle = stack.temporal.get_workflow_handle(invoice_workflow_id(invoice_id))

        async def posting_attempt() -> int | None:
            """The attempt that posted the invoice, once it did."""
            events = (await handle.fetch_history()).events
            scheduled = {
                e.event_id
                for e in events
                if e.activity_task_scheduled_event_attributes.activity_type.name
                == "accounting.post_invoice"
            }
            started = {
                e.event_id: e.activity_task_started_event_attributes.attempt
                for e in events
                if e.activity_task_started_event_attributes.scheduled_event_id in scheduled
            }
            for e in events:
                completed = e.activity_task_completed_event_attributes
                if completed.scheduled_event_id in scheduled:
                    return started[completed.started_event_id]
            return None

        assert await stack.wait_for(posting_attempt, timeout=30) == 1  # never timed out
        assert len(await stack.calls("accounting")) == 1
