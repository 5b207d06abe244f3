"""The billing run on a real Temporal dev server with the whole stack: one invoice per
billable contract, never two, in pages that continue as new, with bounded child starts."""

from __future__ import annotations

import asyncio
from datetime import date

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from core.billing_runs import start_billing_run
from schemas.billing import BillingRunInput, BillingRunProgress, BillingRunResult
from schemas.ids import billing_invoice_id, billing_run_workflow_id
from schemas.invoice import InvoiceStatus
from tests.support.billing import (
    contract_with_entries,
    period_invoices,
    unbilled_count,
    unique_period,
)
from tests.support.stack import Stack, running_stack

N = 25


async def run_chain(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow id (a continued-as-new chain), oldest first."""
    executions = [e async for e in client.list_workflows(f'WorkflowId = "{workflow_id}"')]
    histories = [
        await client.get_workflow_handle(workflow_id, run_id=e.run_id).fetch_history()
        for e in executions
    ]
    return sorted(histories, key=lambda h: h.events[0].event_time.ToDatetime())


def child_starts(history: WorkflowHistory) -> tuple[int, int]:
    """(child workflows initiated, most child starts outstanding at once) in one run."""
    initiated = outstanding = most = 0
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            initiated += 1
            outstanding += 1
            most = max(most, outstanding)
        elif event.event_type in (
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
            EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED,
        ):
            outstanding -= 1
    return initiated, most


async def wait_for_invoices(stack: Stack, period: str, count: int) -> None:
    async def stored() -> bool:
        return len(await period_invoices(stack.sessions, period)) >= count

    await stack.wait_for(stored, timeout=60)


async def invoice_workflow_count(client: Client, customer_ids: list[str]) -> int:
    ids = ", ".join(f'"{c}"' for c in customer_ids)
    query = f'WorkflowType = "Invoice" AND CustomerId IN ({ids})'
    return (await client.count_workflows(query)).count


async def test_a_run_invoices_each_billable_contract_in_pages_that_continue_as_new(
    temporal: Client, sqlite_url: str
) -> None:
    period = unique_period()
    first_day = date.fromisoformat(f"{period}-01")
    async with running_stack(temporal, sqlite_url) as stack:
        billable = [(await contract_with_entries(stack.sessions, period))[1] for _ in range(N)]
        no_entries = (await contract_with_entries(stack.sessions, None))[1]
        long_ago = first_day.replace(year=2000)
        expired = (await contract_with_entries(stack.sessions, period, valid_to=long_ago))[1]
        other_period = (await contract_with_entries(stack.sessions, unique_period()))[1]

        assert await start_billing_run(
            temporal,
            period=period,
            task_queue=stack.settings.task_queue,
            requested_by="test",
            page_size=10,
            max_in_flight=3,
        )
        handle = temporal.get_workflow_handle(
            billing_run_workflow_id(period), result_type=BillingRunResult
        )
        result: BillingRunResult = await handle.result()
        assert (result.contracts_started, result.already_existing) == (N, 0)
        assert (result.pages, result.continued) == (3, 2)  # 10 + 10 + 5
        progress = await handle.query("progress", result_type=BillingRunProgress)
        assert progress.done and progress.contracts_started == N and progress.in_flight == 0

        await wait_for_invoices(stack, period, N)
        invoices = {i.contract_id: i for i in await period_invoices(stack.sessions, period)}
        assert sorted(invoices) == sorted(c.id for c in billable)
        for contract in billable:
            invoice = invoices[contract.id]
            assert invoice.id == billing_invoice_id(contract.id, period)
            assert invoice.status != InvoiceStatus.REJECTED.value and invoice.number
            assert invoice.subtotal_minor == 36000  # 1h + 2h at 120.00
        assert await unbilled_count(stack.sessions, [c.id for c in billable], period) == 0
        assert await unbilled_count(stack.sessions, [expired.id], period) == 1 * 2
        assert not {no_entries.id, expired.id, other_period.id} & set(invoices)

        # history stays bounded: three runs, each starting at most a page of children,
        # with never more than max_in_flight starts outstanding (and that many reached)
        chain = await stack.wait_for(
            lambda: _chain_of(temporal, billing_run_workflow_id(period), 3)
        )
        starts = [child_starts(history) for history in chain]
        assert [initiated for initiated, _ in starts] == [10, 10, 5]
        assert max(most for _, most in starts) == 3
        last_events = [history.events[-1].event_type for history in chain]
        assert last_events == [
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        ]
        assert chain[0].run_id != chain[-1].run_id


async def _chain_of(client: Client, workflow_id: str, runs: int) -> list[WorkflowHistory] | None:
    chain = await run_chain(client, workflow_id)
    return chain if len(chain) == runs else None


async def test_a_doubled_or_repeated_run_never_bills_a_contract_twice(
    temporal: Client, sqlite_url: str
) -> None:
    period = unique_period()
    async with running_stack(temporal, sqlite_url) as stack:
        pairs = [await contract_with_entries(stack.sessions, period) for _ in range(N)]
        # its invoice breaks the cap, so it is rejected and its entries stay unbilled:
        # every later run lists this contract again and must find its invoice already there
        pairs.append(await contract_with_entries(stack.sessions, period, cap_minor=100))
        customer_ids = [customer.id for customer, _ in pairs]
        queue = stack.settings.task_queue

        # the same period twice at once: the period's own run and a stray second one
        assert await start_billing_run(
            temporal,
            period=period,
            task_queue=queue,
            requested_by="test",
            page_size=7,
            max_in_flight=4,
        )
        stray = await temporal.start_workflow(
            "BillingRun",
            BillingRunInput(period=period, requested_by="test", page_size=7, max_in_flight=4),
            id=f"{billing_run_workflow_id(period)}-stray",
            task_queue=queue,
            result_type=BillingRunResult,
        )
        official = temporal.get_workflow_handle(
            billing_run_workflow_id(period), result_type=BillingRunResult
        )
        one, two = await asyncio.gather(official.result(), stray.result())
        assert one.contracts_started + two.contracts_started == N + 1
        # starting the period's run again while it exists starts nothing
        assert not await start_billing_run(
            temporal, period=period, task_queue=queue, requested_by="test"
        )

        await wait_for_invoices(stack, period, N + 1)
        # a later run (a fresh id, as after a reset or a lost run) starts no invoice either
        again = await temporal.execute_workflow(
            "BillingRun",
            BillingRunInput(period=period, requested_by="test", page_size=7, max_in_flight=4),
            id=f"{billing_run_workflow_id(period)}-again",
            task_queue=queue,
            result_type=BillingRunResult,
        )
        assert (again.contracts_started, again.already_existing) == (0, 1)

        invoices = await period_invoices(stack.sessions, period)
        statuses = sorted(i.status == InvoiceStatus.REJECTED.value for i in invoices)
        assert statuses == [False] * N + [True]
        assert len({i.contract_id for i in invoices}) == N + 1

        async def all_visible() -> bool:
            return await invoice_workflow_count(temporal, customer_ids) == N + 1

        await stack.wait_for(all_visible)
        await asyncio.sleep(0.5)  # visibility is eventually consistent: look once more
        assert await invoice_workflow_count(temporal, customer_ids) == N + 1
