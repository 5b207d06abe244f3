"""`CreditRefund` (``credit-refund-{credit_id}-{refund_id}``): customer credit given back
through the payment provider on request, then posted to accounting.

A workflow rather than a call inside the API request, because the provider may be away
for hours: the refund step is retried under `options.REFUND_RETRY` with its look-up by
idempotency key before each retry (so a lost answer never refunds twice), and the ledger
post under the accounting options, through an outage of any length, after the API has
answered. The steps: reserve the amount off the credit (a local activity: an invoice
issued meanwhile cannot take it), refund, record the outcome (a refusal gives the credit
back), post the refund once. The API waits a few seconds for the result and otherwise
answers 202 with the refund pending (`GET /customers/{id}/credit` shows how it ended).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.credit_refunds import CreditRefundActivities
    from activities.remedies import RemedyActivities
    from schemas.credit_refunds import (
        CreditRefundInput,
        CreditRefundResult,
        PostCreditRefundInput,
        ReservedRefund,
        SettleRefundInput,
    )
    from schemas.remedies import RefundInput, RefundMade
    from workflows import options


def _cause(err: ActivityError | ApplicationError) -> BaseException | None:
    """What failed: an activity's cause, or a local activity's ApplicationError itself
    (the SDK raises that one unwrapped)."""
    return err.cause if isinstance(err, ActivityError) else err


def _cause_type(err: ActivityError | ApplicationError) -> str | None:
    cause = _cause(err)
    return cause.type if isinstance(cause, ApplicationError) else None


@workflow.defn(name="CreditRefund")
class CreditRefundWorkflow:
    @workflow.run
    async def run(self, data: CreditRefundInput) -> CreditRefundResult:
        workflow.set_current_details(
            f"Refunding customer credit {data.credit_id} (asked by {data.requested_by})"
        )
        try:
            reserved = await workflow.execute_local_activity_method(
                CreditRefundActivities.reserve_refund,
                data,
                start_to_close_timeout=options.STORE_TIMEOUT,
                retry_policy=options.STORE_RETRY,
            )
        except (ActivityError, ApplicationError) as err:  # nothing left, or no payment
            return CreditRefundResult(
                refund_id=data.refund_id,
                credit_id=data.credit_id,
                status="refused",
                amount_minor=0,
                currency="",
                detail=str(_cause(err)),
                code=_cause_type(err),
            )
        refunds, detail = await self._refund(data, reserved)
        settled = await workflow.execute_local_activity_method(
            CreditRefundActivities.settle_refund,
            SettleRefundInput(refund_id=data.refund_id, refunded=refunds, detail=detail),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        if settled.status == "refunded":
            settled.accounting_ref = await self._post(data, reserved, settled)
        return settled

    async def _refund(
        self, data: CreditRefundInput, reserved: ReservedRefund
    ) -> tuple[list[RefundMade], str | None]:
        workflow.set_current_details(
            f"Refunding {reserved.currency} {reserved.amount_minor / 100:,.2f} of credit"
            f" {data.credit_id} at the payment provider (retried through an outage)"
        )
        try:
            result = await workflow.execute_activity_method(
                RemedyActivities.refund,
                RefundInput(
                    invoice_id=reserved.invoice_id,
                    credit_note_id=reserved.refund_id,  # what the refund is for: its keys
                    amount_minor=reserved.amount_minor,
                    currency=reserved.currency,
                    reason=data.reason,
                    payment_ids=reserved.payment_ids or None,
                ),
                start_to_close_timeout=options.REFUND_TIMEOUT,
                heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                retry_policy=options.REFUND_RETRY,
            )
        except ActivityError as err:  # refused for good: the credit goes back
            workflow.logger.warning("credits.refund_refused", extra={"error": str(err.cause)})
            return [], str(err.cause)
        return list(result.refunds), None

    async def _post(
        self, data: CreditRefundInput, reserved: ReservedRefund, settled: CreditRefundResult
    ) -> str | None:
        """The refund in the ledger, once; past the alert delay the same post resumes
        (looked up first, never given up). A refusal is logged and answered as None."""
        workflow.set_current_details(f"Posting the refund of credit {data.credit_id}")
        post = PostCreditRefundInput(
            refund_id=data.refund_id,
            invoice_id=reserved.invoice_id,
            credit_note_id=reserved.credit_note_id,
            amount_minor=settled.amount_minor,
            currency=settled.currency,
            reason=data.reason,
        )
        for resume in (False, True):
            post.resume = resume
            try:
                result = await workflow.execute_activity_method(
                    CreditRefundActivities.post_credit_refund,
                    post,
                    start_to_close_timeout=options.ACCOUNTING_TIMEOUT,
                    heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                    retry_policy=options.ACCOUNTING_RETRY,
                )
            except ActivityError as err:
                if _cause_type(err) == "AccountingSyncFailing" and not resume:
                    workflow.logger.warning("credits.refund_post_failing")
                    continue
                workflow.logger.error("credits.refund_post_refused", extra={"error": str(err)})
                return None
            return str(result.external_id)
        return None
