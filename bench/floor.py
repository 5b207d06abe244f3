"""The floor: a workflow with the happy-path invoice's shape (4 local activities: create,
approval context, record payment, close; 3 activities: deliver, post invoice, post payment;
1 signal; 1 timer) and empty activity bodies. Its throughput is what Temporal itself allows on
this machine; ``python -m bench.floor`` runs its worker.

``searchable=True`` adds what an invoice also asks of the server: the search attributes set
at start and upserted at ISSUED, PAID and CLOSED (no patch marker: the invoice has none
since the development-only markers were folded into the baseline). It is a diagnostic, not
the floor: it shows how much of the server's work per invoice is visibility. The effects
floor (``effects_floor.py``) runs it too, with activities that make an invoice's calls.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta

from temporalio import activity, workflow
from temporalio.worker import Worker

from core import eventloop
from schemas import search_attributes as sa

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
    async def run(self, searchable: bool = False) -> str:
        local = {"start_to_close_timeout": timedelta(seconds=30)}
        remote = {"start_to_close_timeout": timedelta(seconds=60)}
        await workflow.execute_local_activity(noop, "create", **local)
        await workflow.execute_local_activity(noop, "approval-context", **local)
        if searchable:
            workflow.upsert_search_attributes(
                [
                    sa.INVOICE_STATUS.value_set("ISSUED"),
                    sa.AMOUNT_DUE.value_set(36000),
                    sa.INVOICE_NUMBER.value_set("INV-2026-0001"),
                    sa.CURRENCY.value_set("GBP"),
                    sa.DUE_DATE.value_set(datetime(2026, 12, 24, tzinfo=UTC)),
                ]
            )
        await workflow.execute_activity(noop, "deliver", **remote)
        post_invoice = workflow.start_activity(noop, "post-invoice", **remote)
        self._waiting = True
        try:
            await workflow.wait_condition(lambda: self._paid, timeout=timedelta(days=30))
        except TimeoutError:
            return "timeout"
        await workflow.execute_local_activity(noop, "record-payment", **local)
        if searchable:
            workflow.upsert_search_attributes(
                [sa.INVOICE_STATUS.value_set("PAID"), sa.AMOUNT_DUE.value_set(0)]
            )
        post_payment = workflow.start_activity(noop, "post-payment", **remote)
        await asyncio.gather(post_invoice, post_payment)
        await workflow.execute_local_activity(noop, "close", **local)
        if searchable:
            workflow.upsert_search_attributes(
                [sa.INVOICE_STATUS.value_set("CLOSED"), sa.AMOUNT_DUE.value_set(0)]
            )
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
    from worker.build import workflow_runner

    settings = get_settings()
    client = await connect(settings)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=FLOOR_TASK_QUEUE,
        workflows=[FloorWorkflow],
        # the invoice worker's runner (INVOICEFLOW_WORKFLOW_SANDBOX, the same passthrough
        # modules), so that the floor pays what the invoices pay for the sandbox
        workflow_runner=workflow_runner(settings.workflow_sandbox, "bench"),
        activities=[noop],
        max_concurrent_activities=100,
        max_concurrent_workflow_tasks=100,
    ):
        await stop.wait()


if __name__ == "__main__":
    eventloop.run(main())
