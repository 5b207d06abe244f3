"""The provider side of dispute remedies: a refund at the payment provider, and the credit
notes and write-offs posted to accounting, each made once however often it is retried.

A refund is split over the invoice's recorded payments, newest first (`domain.refunds`),
one provider refund per payment under the key ``{credit_note_id}:refund:{payment_id}``,
each recorded (a `RefundRow`, audited) as soon as the provider answers. A retry reads the
rows first and asks only for what is still missing. Before that it looks up, by its
idempotency key, each refund it may have asked for (one per payment): a refund whose answer
was lost in a crash is recorded from there, so neither a payment that arrived in the
meantime nor a provider that forgot the key can turn the plan into a second refund. On a
first attempt neither read is needed (there is nothing to find).

Credit notes and write-offs go through `activities.accounting.post_once`, exactly as an
invoice does (posting keys ``credit_note:{id}`` and ``write_off:{id}``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import structlog
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.accounting import post_once, wait_for_posting
from activities.heartbeat import heartbeats
from domain.refunds import NotRefundable, PlannedRefund, RefundablePayment, plan_refunds
from integrations.accounting import (
    AccountingClient,
    AccountingCreditAllocation,
    AccountingCreditNote,
    AccountingVoid,
    AccountingWriteOff,
)
from integrations.errors import ProviderError
from integrations.payments import PaymentsClient, Refund
from schemas.customer_credit import PostCreditAllocationInput
from schemas.dispute_tables import CreditNoteRow
from schemas.refund_tables import RefundRow
from schemas.remedies import (
    PostCreditNoteInput,
    PostingResult,
    PostVoidInput,
    PostWriteOffInput,
    RefundInput,
    RefundMade,
    RefundResult,
)
from schemas.tables import Payment
from store import audit, customer_credits, dispute_remedies
from store.db import SessionFactory, insert_if_absent, transaction

log = structlog.get_logger()


def refund_key(credit_note_id: str, payment_id: str) -> str:
    return f"{credit_note_id}:refund:{payment_id}"


class RemedyActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        payments_client: PaymentsClient,
        accounting_client: AccountingClient,
    ) -> None:
        self._sessions = sessions
        self._payments = payments_client
        self._accounting = accounting_client

    # -- refunds at the payment provider ----------------------------------------------

    @activity.defn(name="payments.refund")
    @heartbeats
    async def refund(self, data: RefundInput) -> RefundResult:
        payments, rows = await self._payments_and_refunds(data)
        if activity.info().attempt > 1:
            rows += await self._recover_lost_refunds(data, payments, rows)
        mine = [row for row in rows if row.credit_note_id == data.credit_note_id]
        wanted = data.amount_minor - sum(row.amount_minor for row in mine)
        if wanted > 0:
            for step in self._plan(data, payments, rows, mine, wanted):
                refund = await self._call_refund(data, step)
                mine.append(await self._record(data, refund))
        return RefundResult(
            credit_note_id=data.credit_note_id,
            refunded_minor=sum(row.amount_minor for row in mine),
            refunds=[
                RefundMade(
                    refund_id=row.id, payment_id=row.payment_id, amount_minor=row.amount_minor
                )
                for row in mine
            ],
        )

    async def _payments_and_refunds(
        self, data: RefundInput
    ) -> tuple[list[Payment], list[RefundRow]]:
        """The invoice's payments in the refund's currency, and every refund recorded on
        the invoice (all credit notes: they all take from the same payments)."""
        async with transaction(self._sessions, writes=False) as session:
            query = select(Payment).where(
                Payment.invoice_id == data.invoice_id, Payment.currency == data.currency
            )
            if data.payment_ids is not None:
                query = query.where(col(Payment.id).in_(data.payment_ids))
            payments = await session.exec(query)
            rows = await session.exec(
                select(RefundRow)
                .where(RefundRow.invoice_id == data.invoice_id)
                .order_by(col(RefundRow.created_at), col(RefundRow.id))
            )
            return list(payments), list(rows)

    async def _recover_lost_refunds(
        self, data: RefundInput, payments: list[Payment], rows: list[RefundRow]
    ) -> list[RefundRow]:
        """Record the refunds the provider made for this credit note that we hold no row
        for: each payment's refund is looked up by its idempotency key (a provider forgets
        keys after a while, so a retried POST alone could refund twice)."""
        known = {row.id for row in rows}
        mine = {row.payment_id for row in rows if row.credit_note_id == data.credit_note_id}
        recovered: list[RefundRow] = []
        for payment in payments:
            if payment.id in mine:
                continue
            try:
                refund = await self._payments.find_refund(
                    refund_key(data.credit_note_id, payment.id)
                )
            except ProviderError as err:
                raise self._refund_error(data, err) from err
            if refund is not None and refund.id not in known:
                log.warning(
                    "remedies.refund_recovered",
                    credit_note_id=data.credit_note_id,
                    refund_id=refund.id,
                )
                recovered.append(await self._record(data, refund))
        return recovered

    def _plan(
        self,
        data: RefundInput,
        payments: list[Payment],
        rows: list[RefundRow],
        mine: list[RefundRow],
        wanted: int,
    ) -> list[PlannedRefund]:
        refunded: dict[str, int] = defaultdict(int)
        for row in rows:
            refunded[row.payment_id] += row.amount_minor
        # one refund per payment and credit note: its key is taken once it is made
        done = {row.payment_id for row in mine}
        candidates = [
            RefundablePayment(p.id, p.paid_at, p.amount_minor, refunded[p.id])
            for p in payments
            if p.id not in done
        ]
        try:
            return plan_refunds(candidates, wanted)
        except NotRefundable as refused:
            raise ApplicationError(
                f"credit note {data.credit_note_id}: {refused.detail}",
                type="NotRefundable",
                non_retryable=True,
            ) from refused

    async def _call_refund(self, data: RefundInput, step: PlannedRefund) -> Refund:
        key = refund_key(data.credit_note_id, step.payment_id)
        try:
            return await self._payments.refund(
                idempotency_key=key,
                payment_id=step.payment_id,
                amount_minor=step.amount_minor,
                currency=data.currency,
                reason=data.reason,
                reference=data.credit_note_id,
            )
        except ProviderError as err:
            raise self._refund_error(data, err) from err

    @staticmethod
    def _refund_error(data: RefundInput, err: ProviderError) -> Exception:
        if err.retryable:
            log.warning(
                "remedies.refund_retry",
                credit_note_id=data.credit_note_id,
                status=err.status,
                detail=err.detail,
            )
            return err
        return ApplicationError(
            f"the payment provider refused the refund for {data.credit_note_id}: {err.detail}",
            type="RefundRejected",
            non_retryable=True,
        )

    async def _record(self, data: RefundInput, refund: Refund) -> RefundRow:
        row = RefundRow(
            id=refund.id,
            key=refund_key(data.credit_note_id, refund.payment_id),
            invoice_id=data.invoice_id,
            payment_id=refund.payment_id,
            credit_note_id=data.credit_note_id,
            amount_minor=refund.amount_minor,
            currency=refund.currency,
            created_at=datetime.now(UTC),
        )
        async with transaction(self._sessions) as session:
            await insert_if_absent(session, RefundRow, **row.model_dump())
            # the credit note names its refund (the first, when it is split over payments)
            note = await session.get(CreditNoteRow, data.credit_note_id)
            if note is not None and note.refund_id is None:
                await dispute_remedies.set_credit_note_refund(session, note.id, refund.id)
            await audit.record(
                session,
                step_key=f"{data.invoice_id}:{row.key}",
                invoice_id=data.invoice_id,
                entity="refund",
                action="payment.refunded",
                actor="workflow",
                data={
                    "refund_id": refund.id,
                    "payment_id": refund.payment_id,
                    "credit_note_id": data.credit_note_id,
                    "amount_minor": refund.amount_minor,
                    "currency": refund.currency,
                },
            )
        log.info(
            "remedies.refunded",
            credit_note_id=data.credit_note_id,
            refund_id=refund.id,
            payment_id=refund.payment_id,
            amount_minor=refund.amount_minor,
        )
        return row

    # -- postings to accounting -------------------------------------------------------

    @activity.defn(name="accounting.post_credit_note")
    @heartbeats
    async def post_credit_note(self, data: PostCreditNoteInput) -> PostingResult:
        return await post_once(
            self._sessions,
            key=f"credit_note:{data.credit_note_id}",
            invoice_id=data.invoice_id,
            kind="credit_note",
            call=lambda: self._accounting.post_credit_note(
                idempotency_key=f"{data.credit_note_id}:accounting-credit-note",
                payload=AccountingCreditNote(
                    reference=data.credit_note_id,
                    invoice_reference=data.invoice_id,
                    number=data.number,
                    amount_minor=data.amount_minor,
                    currency=data.currency,
                    reason=data.reason,
                    issued_at=data.issued_at,
                ),
            ),
        )

    @activity.defn(name="accounting.post_write_off")
    @heartbeats
    async def post_write_off(self, data: PostWriteOffInput) -> PostingResult:
        return await post_once(
            self._sessions,
            key=f"write_off:{data.write_off_id}",
            invoice_id=data.invoice_id,
            kind="write_off",
            call=lambda: self._accounting.post_write_off(
                idempotency_key=f"{data.write_off_id}:accounting-write-off",
                payload=AccountingWriteOff(
                    reference=data.write_off_id,
                    invoice_reference=data.invoice_id,
                    amount_minor=data.amount_minor,
                    currency=data.currency,
                    reason=data.reason,
                ),
            ),
        )

    @activity.defn(name="accounting.post_void")
    @heartbeats
    async def post_void(self, data: PostVoidInput) -> PostingResult:
        return await post_once(
            self._sessions,
            key=f"void:{data.invoice_id}",
            invoice_id=data.invoice_id,
            kind="void",
            call=lambda: self._accounting.post_void(
                idempotency_key=f"{data.invoice_id}:accounting-void",
                payload=AccountingVoid(
                    reference=f"void:{data.invoice_id}",
                    invoice_reference=data.invoice_id,
                    replaced_by_reference=data.replaced_by_invoice_id,
                    reason=data.reason,
                ),
            ),
        )

    @activity.defn(name="accounting.post_credit_allocation")
    @heartbeats
    async def post_credit_allocation(self, data: PostCreditAllocationInput) -> PostingResult:
        """Customer credit taken off a later invoice: the credit note allocated to it, or
        for an overpayment's credit the overpaid payment (which must be in the ledger first:
        its post may still be landing after an outage, so this waits for it)."""
        key = f"{data.credit_note_id}:{data.invoice_id}"
        payment_id = customer_credits.overpaid_payment(data.credit_note_id)
        if payment_id is not None:
            await wait_for_posting(self._sessions, f"payment:{payment_id}")
        return await post_once(
            self._sessions,
            key=f"credit_allocation:{key}",
            invoice_id=data.invoice_id,
            kind="credit_allocation",
            call=lambda: self._accounting.post_credit_allocation(
                idempotency_key=f"{key}:accounting-credit-allocation",
                payload=AccountingCreditAllocation(
                    reference=f"allocation:{key}",
                    credit_note_reference=None if payment_id else data.credit_note_id,
                    payment_reference=payment_id,
                    invoice_reference=data.invoice_id,
                    amount_minor=data.amount_minor,
                    currency=data.currency,
                ),
            ),
        )
