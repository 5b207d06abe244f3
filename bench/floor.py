"""The floor: a workflow with the happy-path invoice's shape (3 local activities,
3 activities, 1 signal, 1 timer) and empty activity bodies. Its throughput is what
Temporal itself allows on this machine; ``python -m bench.floor`` runs its worker."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.worker import Worker

from core import eventloop

FLOOR_TASK_QUEUE = "bench-floor"


@activity.defn(name="floor.noop")
async def noop(step: str) -> str:
    return step


@workflow.defn(name="BenchFloor")
class FloorWorkflow:
    def __init__(self) -> None:
        self._paid = False
        self._waiting = False

    @workflow.run
    async def run(self) -> str:
        local = {"start_to_close_timeout": timedelta(seconds=30)}
        remote = {"start_to_close_timeout": timedelta(seconds=60)}
        await workflow.execute_local_activity(noop, "create", **local)
        await workflow.execute_activity(noop, "deliver", **remote)
        post_invoice = workflow.start_activity(noop, "post-invoice", **remote)
        self._waiting = True
        try:
            await workflow.wait_condition(lambda: self._paid, timeout=timedelta(days=30))
        except TimeoutError:
            return "timeout"
        await workflow.execute_local_activity(noop, "record-payment", **local)
        post_payment = workflow.start_activity(noop, "post-payment", **remote)
        await asyncio.gather(post_invoice, post_payment)
        await workflow.execute_local_activity(noop, "close", **local)
        return "closed"

    @workflow.signal(name="payment_received")
    def payment_received(self) -> None:
        self._paid = True

    @workflow.query(name="waiting")
    def waiting(self) -> bool:
        return self._waiting


async def main() -> None:
    from core.settings import get_settings
    from core.temporal import connect

    client = await connect(get_settings())
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=FLOOR_TASK_QUEUE,
        workflows=[FloorWorkflow],
        activities=[noop],
        max_concurrent_activities=100,
        max_concurrent_workflow_tasks=100,
    ):
        await stop.wait()


if __name__ == "__main__":
    eventloop.run(main())
