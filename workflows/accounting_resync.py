"""`AccountingResync` (``accounting-resync-{invoice_id}``): a re-sync for an invoice whose
process has ended (closed, void), which can no longer take the `resync` update. It runs
the one re-sync activity over the documents kept for the invoice, and ends with what it
found, created or was refused; the API answers with that."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.accounting_sync import AccountingSyncActivities
    from schemas.accounting_sync import ResyncActivityInput, ResyncResult
    from workflows import options
    from workflows.stages.post import RESYNC_RETRY, RESYNC_TIMEOUT


@workflow.defn(name="AccountingResync")
class AccountingResyncWorkflow:
    @workflow.run
    async def run(self, data: ResyncActivityInput) -> ResyncResult:
        workflow.set_current_details(f"Re-posting invoice {data.invoice_id} to accounting")
        return await workflow.execute_activity_method(
            AccountingSyncActivities.resync,
            data,
            start_to_close_timeout=RESYNC_TIMEOUT,
            heartbeat_timeout=options.PROVIDER_HEARTBEAT,
            retry_policy=RESYNC_RETRY,
        )
