"""Customer credit refunded on request: the steps of the `CreditRefund` workflow around the
provider refund itself (which is `payments.refund`, the remedies' refund with its look-up
by idempotency key before a retry: the same code keeps both from refunding twice).

`reserve_refund` takes the amount off the credit before the provider is asked (see
`store.credit_refunds` for why), `settle_refund` records the provider's outcome (giving a
refused refund back to the credit), and `post_credit_refund` posts the refund to the
ledger once, through `post_once` like every other document (posting key
``credit_refund:{refund_id}``), after the document it draws on (the credit note, or the
overpaid payment) is there.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.accounting import RUN, PostRun, post_once, wait_for_posting
from activities.heartbeat import heartbeats
from integrations.accounting import AccountingClient, AccountingRefund
from schemas.credit_refunds import (
    CreditRefundInput,
    CreditRefundResult,
    PostCreditRefundInput,
    ReservedRefund,
    SettleRefundInput,
)
from schemas.credit_tables import CustomerCreditRow
from schemas.invoice import PostingResult
from store import credit_refunds, customer_credits
from store.credit_refunds import CreditNotRefundable, NothingToRefund
from store.db import SessionFactory, transaction

log = structlog.get_logger()


class CreditRefundActivities:
    def __init__(self, sessions: SessionFactory, accounting_client: AccountingClient) -> None:
        self._sessions = sessions
        self._accounting = accounting_client

    @activity.defn(name="credits.reserve_refund")
    async def reserve_refund(self, data: CreditRefundInput) -> ReservedRefund:
        """Take what the credit can give back off it, once per request; nothing left or no
        payment behind it ends the workflow (the API answered 409 for both already, unless
        an invoice took the credit in between)."""
        try:
            async with transaction(self._sessions) as session:
                row = await credit_refunds.reserve(
                    session,
                    refund_id=data.refund_id,
                    credit_id=data.credit_id,
                    requested_by=data.requested_by,
                    reason=data.reason,
                    at=datetime.now(UTC),
                )
                credit = await session.get(CustomerCreditRow, row.credit_id)
                assert credit is not None
        except (NothingToRefund, CreditNotRefundable) as refused:
            raise ApplicationError(str(refused), type=refused.code, non_retryable=True) from None
        except LookupError as unknown:
            raise ApplicationError(str(unknown), type="not_found", non_retryable=True) from None
        return ReservedRefund(
            refund_id=row.id,
            credit_id=row.credit_id,
            invoice_id=row.invoice_id,
            credit_note_id=credit.credit_note_id,
            # an overpayment goes back to the payment that brought it; a credit note's
            # credit to any of its invoice's payments, newest first
            payment_ids=[credit.payment_id] if credit.payment_id else [],
            amount_minor=row.amount_minor,
            currency=row.currency,
            status=row.status,
        )

    @activity.defn(name="credits.settle_refund")
    async def settle_refund(self, data: SettleRefundInput) -> CreditRefundResult:
        async with transaction(self._sessions) as session:
            row = await credit_refunds.settle(
                session, refund_id=data.refund_id, detail=data.detail, at=datetime.now(UTC)
            )
        log.info(
            "credits.refund_settled",
            refund_id=row.id,
            credit_id=row.credit_id,
            status=row.status,
            amount_minor=row.amount_minor,
        )
        return CreditRefundResult(
            refund_id=row.id,
            credit_id=row.credit_id,
            status=row.status,
            amount_minor=row.amount_minor,
            currency=row.currency,
            refunds=data.refunded,
            detail=row.detail,
        )

    @activity.defn(name="accounting.post_credit_refund")
    @heartbeats
    async def post_credit_refund(self, data: PostCreditRefundInput) -> PostingResult:
        """The refund in the ledger, drawn on the credit note or the overpaid payment."""
        token = RUN.set(PostRun(mode="resume")) if data.resume else None
        try:
            payment_id = customer_credits.overpaid_payment(data.credit_note_id)
            source = f"payment:{payment_id}" if payment_id else f"credit_note:{data.credit_note_id}"
            await wait_for_posting(self._sessions, source)
            return await post_once(
                self._sessions,
                key=f"credit_refund:{data.refund_id}",
                invoice_id=data.invoice_id,
                kind="credit_refund",
                call=lambda: self._accounting.post_refund(
                    idempotency_key=f"{data.refund_id}:accounting-refund",
                    payload=AccountingRefund(
                        reference=f"refund:{data.refund_id}",
                        credit_note_reference=None if payment_id else data.credit_note_id,
                        payment_reference=payment_id,
                        amount_minor=data.amount_minor,
                        currency=data.currency,
                        reason=data.reason,
                    ),
                ),
            )
        finally:
            if token is not None:
                RUN.reset(token)
