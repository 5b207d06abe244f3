"""The billing run: one period's invoices for every contract with unbilled entries in it.

page of contracts (activity) -> one child invoice workflow per contract, at most
``max_in_flight`` starts outstanding -> continue as new with the cursor and the totals ->
... -> an empty or short page ends the run. Continuing as new after each page keeps every
run's history (and its count of pending children, which the server caps) to one page,
whatever the number of contracts; the query ``progress`` still reports the whole run.

Idempotent per (contract, period): each child gets the id ``invoice-{billing_invoice_id}``,
the same on every run, started with REJECT_DUPLICATE, so a restarted, reset or doubled run
finds the invoice workflow already there and counts it as done. The children are
abandoned on purpose: an invoice lives until it is paid, long after the run has ended.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.billing import BillingActivities
    from domain.billing import InvalidPeriod, parse_period, previous_period
    from schemas import search_attributes as sa
    from schemas.billing import (
        BILLING_RUN_WORKFLOW,
        MAX_PAGE_SIZE,
        BillableContract,
        BillingRunInput,
        BillingRunProgress,
        BillingRunResult,
        ListBillableContractsInput,
    )
    from schemas.ids import billing_invoice_id, billing_run_workflow_id, invoice_workflow_id
    from schemas.invoice import InvoiceStatus, StartInvoiceInput
    from workflows import options
    from workflows.invoice import InvoiceWorkflow


@workflow.defn(name=BILLING_RUN_WORKFLOW)
class BillingRunWorkflow:
    @workflow.init
    def __init__(self, data: BillingRunInput) -> None:
        self._period = data.period
        self._totals = data.totals.model_copy()
        self._cursor = data.cursor
        self._in_flight = 0
        self._done = False

    @workflow.run
    async def run(self, data: BillingRunInput) -> BillingRunResult:
        if data.period is None:
            return await self._bill_previous_month(data)
        period = data.period
        try:
            parse_period(period)
        except InvalidPeriod as bad:
            raise ApplicationError(str(bad), type=bad.code, non_retryable=True) from bad
        # a run's started children count as its pending children until they close, and the
        # server caps those (2,000 by default): a page must stay well below that
        page_size = min(max(1, data.page_size), MAX_PAGE_SIZE)

        page = await workflow.execute_activity_method(
            BillingActivities.list_contracts,
            ListBillableContractsInput(
                period=period, after_contract_id=self._cursor, limit=page_size
            ),
            start_to_close_timeout=options.BILLING_LIST_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        self._totals.pages += 1
        seen = self._totals.contracts_started + self._totals.already_existing
        self._totals.contracts_total = seen + page.remaining
        self._update_details()

        await self._start_children(period, page.contracts, max(1, data.max_in_flight), data)
        if page.contracts:
            self._cursor = page.contracts[-1].contract_id
        if len(page.contracts) == page_size:
            # more may follow: start afresh with an empty history, carrying where we are
            self._totals.continued += 1
            self._update_details()
            workflow.continue_as_new(
                data.model_copy(update={"cursor": self._cursor, "totals": self._totals})
            )
        self._done = True
        self._update_details()
        return self._result(period)

    async def _start_children(
        self,
        period: str,
        contracts: list[BillableContract],
        max_in_flight: int,
        data: BillingRunInput,
    ) -> None:
        """Start one invoice workflow per contract, never more than ``max_in_flight`` starts
        awaiting the server's answer at once."""
        starts: list[asyncio.Task[None]] = []
        for contract in contracts:
            await workflow.wait_condition(lambda: self._in_flight < max_in_flight)
            self._in_flight += 1
            starts.append(asyncio.create_task(self._start_invoice(period, contract, data)))
        await asyncio.gather(*starts)

    async def _start_invoice(
        self, period: str, contract: BillableContract, data: BillingRunInput
    ) -> None:
        invoice_id = billing_invoice_id(contract.contract_id, period)
        try:
            await workflow.start_child_workflow(
                InvoiceWorkflow.run,
                StartInvoiceInput(
                    invoice_id=invoice_id,
                    customer_id=contract.customer_id,
                    customer_name=contract.customer_name,
                    contract_id=contract.contract_id,
                    requested_by=data.requested_by,
                    billing_period=period,
                ),
                id=invoice_workflow_id(invoice_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"{contract.customer_name} · billing {period}",
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.INVOICE_ID, invoice_id),
                        SearchAttributePair(sa.CUSTOMER_ID, contract.customer_id),
                        SearchAttributePair(sa.INVOICE_STATUS, InvoiceStatus.PENDING.value),
                    ]
                ),
            )
            self._totals.contracts_started += 1
        except WorkflowAlreadyStartedError:
            # an earlier (or a concurrent) run billed this contract for this period
            self._totals.already_existing += 1
        finally:
            self._in_flight -= 1
        self._update_details()

    async def _bill_previous_month(self, data: BillingRunInput) -> BillingRunResult:
        """Started by the monthly schedule: bill last month as ``billing-run-{period}``, the
        id everyone else uses for that period, so a manual run and the schedule never
        run the same period side by side."""
        period = self._period = previous_period(workflow.now())
        run_id = billing_run_workflow_id(period)
        workflow.set_current_details(f"Billing {period}: handed to **{run_id}**")
        try:
            handle = await workflow.start_child_workflow(
                BillingRunWorkflow.run,
                data.model_copy(update={"period": period}),
                id=run_id,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                static_summary=f"Billing run {period}",
            )
        except WorkflowAlreadyStartedError:
            self._done = True
            workflow.set_current_details(f"Billing {period}: **{run_id}** was already started")
            return self._result(period, delegated_to=run_id)
        result = await handle
        counts = {"contracts_started", "already_existing", "pages", "continued"}
        self._totals = self._totals.model_copy(update=result.model_dump(include=counts))
        self._done = True
        workflow.set_current_details(f"Billing {period}: done by **{run_id}**")
        return result.model_copy(update={"delegated_to": run_id})

    def _result(self, period: str, delegated_to: str | None = None) -> BillingRunResult:
        totals = self._totals
        return BillingRunResult(
            period=period,
            contracts_started=totals.contracts_started,
            already_existing=totals.already_existing,
            pages=totals.pages,
            continued=totals.continued,
            delegated_to=delegated_to,
        )

    def _update_details(self) -> None:
        totals = self._totals
        head = f"Billing {self._period}: {totals.contracts_started:,} contracts started"
        if totals.already_existing:
            head += f", {totals.already_existing:,} already invoiced"
        if totals.contracts_total is not None:
            head += f" (of about {totals.contracts_total:,})"
        if self._done:
            workflow.set_current_details(f"{head}; done after {totals.pages} pages")
            return
        where = f"page {totals.pages}, cursor {self._cursor or '(start)'}"
        workflow.set_current_details(f"{head}, {where}, {self._in_flight} starts in flight")

    @workflow.query(name="progress")
    def progress(self) -> BillingRunProgress:
        totals = self._totals
        return BillingRunProgress(
            period=self._period,
            contracts_started=totals.contracts_started,
            already_existing=totals.already_existing,
            pages=totals.pages,
            continued=totals.continued,
            contracts_total=totals.contracts_total,
            in_flight=self._in_flight,
            cursor=self._cursor,
            done=self._done,
        )
