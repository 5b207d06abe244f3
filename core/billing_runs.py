"""Start a billing run and read its state through a Temporal client (the API and the CLI).

A period has one run, ``billing-run-{period}``. Starting it again while it runs or after it
completed starts nothing and returns False; a run that failed or was terminated may be
started again (its finished invoices are found and skipped, by their deterministic ids).
``rerun=True`` starts a completed period's run once more, under the same workflow id: it
bills what is still unbilled in the period (entries added after the run went past their
contract), and skips every contract already invoiced for it, as a restarted run does.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryRejectedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from schemas.billing import (
    BILLING_RUN_WORKFLOW,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_PAGE_SIZE,
    BillingRunInput,
    BillingRunProgress,
    BillingRunResult,
)
from schemas.ids import billing_run_workflow_id

READ_TIMEOUT = timedelta(seconds=5)


def run_summary(period: str, rerun: bool = False) -> str:
    return f"Billing run {period}" + (" (rerun)" if rerun else "")


async def start_billing_run(
    client: Client,
    *,
    period: str,
    task_queue: str,
    requested_by: str,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    rerun: bool = False,
) -> bool:
    """Start the period's run; False if it is running, or completed and `rerun` is False."""
    data = BillingRunInput(
        period=period,
        requested_by=requested_by,
        page_size=page_size,
        max_in_flight=max_in_flight,
    )
    try:
        await client.start_workflow(
            BILLING_RUN_WORKFLOW,
            data,
            id=billing_run_workflow_id(period),
            task_queue=task_queue,
            id_reuse_policy=(
                WorkflowIDReusePolicy.ALLOW_DUPLICATE
                if rerun
                else WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
            ),
            static_summary=run_summary(period, rerun),
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def billing_run_state(
    client: Client, period: str
) -> tuple[str | None, BillingRunProgress | None]:
    """The run's Temporal status (None if there is no run) and its progress: the live query
    while it runs, its result once completed, None if it failed or cannot be asked."""
    handle = client.get_workflow_handle(
        billing_run_workflow_id(period), result_type=BillingRunResult
    )
    try:
        description = await handle.describe(rpc_timeout=READ_TIMEOUT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None, None
        raise
    status = description.status
    name = status.name if status is not None else None
    try:
        if status == WorkflowExecutionStatus.RUNNING:
            progress = await handle.query(
                "progress", result_type=BillingRunProgress, rpc_timeout=READ_TIMEOUT
            )
            return name, progress
        if status == WorkflowExecutionStatus.COMPLETED:
            result: BillingRunResult = await handle.result(rpc_timeout=READ_TIMEOUT)
            return name, BillingRunProgress(
                **result.model_dump(exclude={"delegated_to"}), done=True
            )
    except (RPCError, WorkflowQueryRejectedError):
        pass  # no worker to answer the query just now: the status alone still helps
    return name, None
