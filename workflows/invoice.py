"""The invoice workflow: one customer invoice from generation to close.

generate + number (local activity) -> deliver: payment link + e-mail (activity)
-> post to accounting (activity, in the background) -> wait for payments (signals),
OVERDUE after the due date -> PAID -> wait for every accounting post -> CLOSED.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.accounting import AccountingActivities
    from activities.approval import ApprovalActivities
    from activities.delivery import DeliveryActivities
    from activities.notices import NoticeActivities
    from activities.store import InvoiceStoreActivities
    from domain.approval import (
        ApprovalPolicyError,
        ApprovalState,
        ApprovalSubject,
        approval_chain,
        check_decision,
        waiting_on,
    )
    from domain.money import format_amount
    from schemas import search_attributes as sa
    from schemas.approval import (
        CorrectInput,
        DecideInput,
        DecideResult,
        LoadApprovalContextInput,
        RecordDecisionInput,
        ReviseInvoiceInput,
    )
    from schemas.invoice import (
        OPEN_STATUSES,
        CancelInvoiceInput,
        CancelInvoiceResult,
        CreateInvoiceInput,
        DeliverInvoiceInput,
        InvoiceResult,
        InvoiceSnapshot,
        InvoiceState,
        InvoiceStatus,
        PaymentReceived,
        PaymentView,
        PostingResult,
        PostInvoiceInput,
        PostPaymentInput,
        RecordPaymentInput,
        RefusedPayment,
        ResendInvoiceInput,
        ResendInvoiceResult,
        SendNoticeInput,
        SetStatusInput,
        StartInvoiceInput,
    )
    from workflows import options
    from workflows.approval import DECISION_WRITES, ApprovalRound, status_after


# Payments the invoice cannot apply are flagged for operations (patched in: before it, a
# payment in another currency was dropped with a log line, and one that arrived before the
# invoice was generated was applied whatever its currency).
PAYMENT_REFUSALS = "payment-refusals-v1"


# A correction sent while the approval policy cannot be met ends the wait for an operator:
# the corrected invoice meets the policy again (patched in: before it, such a correction
# was accepted and then ignored).
POLICY_BLOCK_CORRECTIONS = "policy-block-corrections-v1"


# An approval deadline that fires together with the decision it waited for is dropped
# (patched in: before it, the old level's deadline was applied to the next level).
STALE_DEADLINES = "stale-approval-deadlines-v1"


# Each payment applied sends the customer a receipt (patched in: before it, none was sent).
# Asked once, when the first payment signal arrives: a patch asked right after a local
# activity can land in a later workflow task on the first run than on replay, which is a
# nondeterminism error (v1 did that).
PAYMENT_RECEIPTS = "payment-receipts-v2"

# Not issued yet: an invoice in these states can be cancelled (update `cancel`).
CANCELLABLE = (
    InvoiceStatus.AWAITING_APPROVAL,
    InvoiceStatus.CHANGES_REQUESTED,
    InvoiceStatus.APPROVAL_EXPIRED,
)


class _Cancelled(Exception):
    """Raised inside the approval stage once a cancel was accepted; caught by `run`."""


def overdue_at(invoice: InvoiceSnapshot) -> datetime:
    """An invoice is overdue from 00:00 UTC on the day after its due date."""
    return datetime.combine(invoice.due_date + timedelta(days=1), time.min, tzinfo=UTC)


@workflow.defn(name="Invoice")
class InvoiceWorkflow:
    @workflow.init
    def __init__(self, request: StartInvoiceInput) -> None:
        self._request = request
        self._status = InvoiceStatus.PENDING
        self._invoice: InvoiceSnapshot | None = None
        self._paid_minor = 0
        self._pending: list[PaymentReceived] = []
        self._seen_payment_ids: set[str] = set()
        self._payments: dict[str, PaymentView] = {}
        self._refused_payments: list[RefusedPayment] = []
        self._waiting_for: str | None = "invoice generation"
        self._rejection: str | None = None
        self._payment_url: str | None = None
        self._accounting_invoice_ref: str | None = None
        self._version = 1
        self._approval: ApprovalRound | None = None
        self._correction: CorrectInput | None = None
        self._correction_refused: str | None = None
        self._last_correction_by: str | None = None
        self._operator_override: DecideInput | None = None
        self._policy_blocked: str | None = None
        self._block_takes_corrections = False
        self._revising = False
        self._recording = 0  # decisions whose writes are running (see DECISION_WRITES)
        self._cancel: CancelInvoiceInput | None = None
        self._delivered = False  # the first delivery has run (a resend needs it)
        self._notices: list[asyncio.Future[Any]] = []  # receipts sent in the background
        self._receipts: bool | None = None  # PAYMENT_RECEIPTS, asked at the first payment

    # --- the process -------------------------------------------------------------

    @workflow.run
    async def run(self, request: StartInvoiceInput) -> InvoiceResult:
        issue_date = request.issue_date or workflow.now().date()
        created = await workflow.execute_local_activity_method(
            InvoiceStoreActivities.create_invoice,
            CreateInvoiceInput(request=request, issue_date=issue_date),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        if created.invoice is None:
            return self._rejected(created.rejection_code or "rejected", created.rejection_reason)

        invoice = self._invoice = created.invoice
        if workflow.patched("approval-v1"):  # histories recorded before approvals replay as before
            try:
                invoice = self._invoice = await self._approve(invoice)
            except _Cancelled:
                return await self._cancelled(invoice)
        self._set_status(InvoiceStatus.ISSUED, number=invoice.number)
        self._waiting_for = "delivery to the customer"
        self._update_details()
        await self._deliver(invoice)
        self._delivered = True

        # postings[0] is the invoice's own post; payment posts wait for it
        postings: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._post_invoice(invoice))]
        while True:
            await self._collect(invoice, postings)
            self._waiting_for = "accounting posts"
            self._update_details()
            await asyncio.gather(*postings)
            if not self._pending:  # a payment that arrived meanwhile is applied, not lost
                break
        await self._set_stored_status(InvoiceStatus.CLOSED, "close")
        self._set_status(InvoiceStatus.CLOSED)
        while self._pending:  # paid again while closing: recorded and posted, never lost
            payment = self._pending.pop(0)
            await self._apply_payment(invoice, payment)
            await self._post_payment(invoice, payment, postings[0])
        await asyncio.gather(*self._notices)  # the last receipt goes out before the run ends
        self._waiting_for = None
        self._update_details()
        return InvoiceResult(
            invoice_id=request.invoice_id,
            status=self._status,
            number=invoice.number,
            paid_minor=self._paid_minor,
        )

    # --- cancel and resend -------------------------------------------------------------

    def _raise_if_cancelled(self) -> None:
        if self._cancel is not None:
            raise _Cancelled

    async def _cancelled(self, invoice: InvoiceSnapshot) -> InvoiceResult:
        """Withdrawn before it was issued: stored and shown as CANCELLED with who and why.
        The number stays allocated (the series stays gapless) and nothing is owed."""
        cancel = self._cancel
        assert cancel is not None
        await self._set_stored_status(
            InvoiceStatus.CANCELLED, "cancelled", actor=cancel.cancelled_by, note=cancel.reason
        )
        self._set_status(InvoiceStatus.CANCELLED)
        workflow.upsert_search_attributes([sa.EXCEPTION_REASON.value_unset()])
        self._waiting_for = None
        workflow.set_current_details(
            f"**{invoice.number}** · {invoice.customer_name} · **Cancelled** by"
            f" {cancel.cancelled_by}: {cancel.reason}"
        )
        return InvoiceResult(
            invoice_id=self._request.invoice_id,
            status=InvoiceStatus.CANCELLED,
            number=invoice.number,
        )

    @workflow.update(name="cancel")
    async def cancel(self, data: CancelInvoiceInput) -> CancelInvoiceResult:
        """Withdraw an invoice that is not issued yet (an operator can do it from the UI:
        `{"reason": "...", "cancelled_by": "..."}`)."""
        self._cancel = data
        await workflow.wait_condition(lambda: self._status == InvoiceStatus.CANCELLED)
        return CancelInvoiceResult(status=self._status)

    @cancel.validator
    def _validate_cancel(self, data: CancelInvoiceInput) -> None:
        if self._cancel is not None or self._status == InvoiceStatus.CANCELLED:
            raise ApplicationError("the invoice is already cancelled", type="already_cancelled")
        if self._status not in CANCELLABLE:
            raise ApplicationError(
                f"only an invoice that is not issued yet can be cancelled (it is"
                f" {self._status.value}); an issued invoice is corrected by a credit note",
                type="not_cancellable",
            )
        if self._revising:
            raise ApplicationError(
                "a correction is being applied; try again in a moment", type="not_cancellable"
            )

    @workflow.update(name="resend")
    async def resend(self, data: ResendInvoiceInput) -> ResendInvoiceResult:
        """E-mail the issued invoice again, with its payment link. Send it with the update
        id `data.request_id`: a repeated request is the same update and sends nothing more."""
        invoice = self._invoice
        assert invoice is not None
        try:
            return await workflow.execute_activity_method(
                NoticeActivities.resend_invoice,
                SendNoticeInput(
                    invoice=invoice,
                    payment_url=self._payment_url,
                    key=data.request_id,
                    recipient=data.to,
                    requested_by=data.requested_by,
                ),
                start_to_close_timeout=options.DELIVERY_TIMEOUT,
                heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                retry_policy=options.RESEND_RETRY,
            )
        except ActivityError as err:
            raise ApplicationError(
                f"the invoice could not be sent again: {err.cause}", type="resend_failed"
            ) from err

    @resend.validator
    def _validate_resend(self, data: ResendInvoiceInput) -> None:
        if not self._delivered or self._status not in OPEN_STATUSES:
            raise ApplicationError(
                f"only an issued, unpaid invoice can be sent again (it is {self._status.value})",
                type="not_resendable",
            )

    async def _send_receipt(self, invoice: InvoiceSnapshot, payment: PaymentReceived) -> None:
        """A short receipt for one payment: the amount and the balance after it. A mailbox
        refusing it for good is logged, never a failed invoice."""
        try:
            await workflow.execute_activity_method(
                NoticeActivities.send_receipt,
                SendNoticeInput(
                    invoice=invoice,
                    payment_url=self._payment_url,
                    key=payment.payment_id,
                    amount_minor=payment.amount_minor,
                    paid_minor=self._paid_minor,
                    paid_at=payment.paid_at,
                ),
                start_to_close_timeout=options.DELIVERY_TIMEOUT,
                heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                retry_policy=options.DELIVERY_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("invoice.receipt_failed", extra={"error": str(err.cause)})

    # --- approval ----------------------------------------------------------------------

    async def _approve(self, invoice: InvoiceSnapshot) -> InvoiceSnapshot:
        """Rounds of approval until one approves; a rejection waits for a correction and
        starts a new round (new version, new links; every old link is dead)."""
        context = await workflow.execute_local_activity_method(
            ApprovalActivities.load_context,
            LoadApprovalContextInput(invoice_id=invoice.invoice_id),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        created_by = self._request.created_by or self._request.requested_by
        last_changed_by = created_by
        round_no = 0
        while True:
            subject = ApprovalSubject(
                document_type="invoice",
                amount_minor=invoice.total_minor,
                currency=invoice.currency,
                customer_id=invoice.customer_id,
                region=invoice.tax_region,
                created_by=created_by,
                last_changed_by=last_changed_by,
                version=self._version,
            )
            round_no += 1
            self._approval = None
            try:
                chain = approval_chain(context.policy, subject, today=workflow.now().date())
            except ApprovalPolicyError as err:
                decision = await self._blocked_by_policy(err, round_no)
                if decision is None:  # corrected meanwhile: the new lines meet the policy again
                    note = None
                elif decision.decision == "approve":
                    return await self._approved(invoice)
                else:
                    note = decision.reason
            else:
                if chain is None:
                    return await self._approved(invoice) if round_no > 1 else invoice
                approval = self._approval = ApprovalRound(chain, context, round_no, invoice)
                if round_no == 1:
                    self._set_status(InvoiceStatus.AWAITING_APPROVAL, number=invoice.number)
                await self._set_stored_status(
                    InvoiceStatus.AWAITING_APPROVAL, f"approval:r{round_no}"
                )
                self._set_status(InvoiceStatus.AWAITING_APPROVAL)
                await approval.send("request", list(waiting_on(chain, approval.state)))
                await self._run_round(approval)
                if approval.state.status == "approved":
                    return await self._approved(invoice)
                decisions = approval.state.decisions
                note = decisions[-1].reason if decisions else None
            invoice = self._invoice = await self._await_correction(round_no, note)
            last_changed_by = self._last_correction_by or last_changed_by

    async def _approved(self, invoice: InvoiceSnapshot) -> InvoiceSnapshot:
        """Store the move to ISSUED and clear any flag operations had on the approval."""
        self._raise_if_cancelled()  # accepted together with the last approval: cancel wins
        await self._set_stored_status(InvoiceStatus.ISSUED, f"approved:v{self._version}")
        workflow.upsert_search_attributes([sa.EXCEPTION_REASON.value_unset()])
        self._policy_blocked = None
        return invoice

    async def _run_round(self, approval: ApprovalRound) -> None:
        level = 0
        while approval.state.status in ("pending", "expired"):
            self._raise_if_cancelled()
            if approval.state.status == "pending" and approval.state.active_level != level:
                # checked first: a level may complete while a send or a reminder is running
                level = approval.state.active_level
                await approval.send("request", list(waiting_on(approval.chain, approval.state)))
                continue
            if approval.state.status == "expired":
                if self._status != InvoiceStatus.APPROVAL_EXPIRED:
                    await self._set_stored_status(
                        InvoiceStatus.APPROVAL_EXPIRED, f"approval_expired:r{approval.round}"
                    )
                    self._set_status(InvoiceStatus.APPROVAL_EXPIRED)
                    workflow.upsert_search_attributes(
                        [sa.EXCEPTION_REASON.value_set("approval_expired")]
                    )
                self._waiting_for = (
                    "operations: nobody approved in time (update `decide` as operator)"
                )
                self._update_details()
                expired = approval.state

                def moved_on(expired: ApprovalState = expired) -> bool:
                    return (
                        approval.state is not expired
                        or self._correction is not None
                        or self._cancel is not None
                    )

                try:
                    await workflow.wait_condition(moved_on, timeout=options.OVERDUE_RECHECK)
                except TimeoutError:
                    pass
                if self._correction is not None:
                    return
                continue
            kind, at = approval.next_deadline()
            self._waiting_for = approval.waiting_text()
            self._update_details()
            before = approval.state
            try:
                await workflow.wait_condition(
                    lambda: approval.state is not before or self._cancel is not None,  # noqa: B023
                    timeout=max(at - workflow.now(), timedelta(seconds=1)),
                )
            except TimeoutError:
                # The timer and a decision can land in one activation (after a worker
                # outage, say): the deadline was the old level's, so it must not remind,
                # escalate or expire the level the decision moved to.
                if approval.state is not before and workflow.patched(STALE_DEADLINES):
                    continue
                await approval.on_deadline(kind)

    async def _await_correction(self, round_no: int, note: str | None) -> InvoiceSnapshot:
        """Rejected or changes requested: wait for the corrected lines, then revise."""
        await self._set_stored_status(
            InvoiceStatus.CHANGES_REQUESTED, f"changes_requested:r{round_no}"
        )
        self._set_status(InvoiceStatus.CHANGES_REQUESTED)
        while True:
            self._raise_if_cancelled()
            self._waiting_for = (
                f"a corrected invoice from {self._request.requested_by} (update `correct`)"
                + (f"; approver's note: {note}" if note else "")
            )
            self._update_details()
            try:
                await workflow.wait_condition(
                    lambda: self._correction is not None or self._cancel is not None,
                    timeout=options.OVERDUE_RECHECK,
                )
            except TimeoutError:
                continue
            self._raise_if_cancelled()
            correction = self._correction
            assert correction is not None
            self._revising = True  # the `correct` validator refuses a second one meanwhile
            try:
                revised = await workflow.execute_local_activity_method(
                    ApprovalActivities.revise,
                    ReviseInvoiceInput(
                        invoice_id=self._request.invoice_id,
                        correction=correction,
                        version=self._version + 1,
                        round=round_no,
                    ),
                    start_to_close_timeout=options.STORE_TIMEOUT,
                    retry_policy=options.STORE_RETRY,
                )
            finally:
                self._revising = False
                self._correction = None
            if revised.invoice is None:
                self._correction_refused = revised.rejection_reason
                continue
            self._version += 1
            self._last_correction_by = correction.changed_by
            self._correction_refused = None
            return revised.invoice

    async def _blocked_by_policy(
        self, err: ApprovalPolicyError, round_no: int
    ) -> DecideInput | None:
        """The policy cannot be met (e.g. separation of duties leaves too few approvers):
        flag it and wait for an operator's decision, or for corrected lines (None); never
        issue unapproved."""
        workflow.upsert_search_attributes([sa.EXCEPTION_REASON.value_set(err.code)])
        await self._set_stored_status(InvoiceStatus.APPROVAL_EXPIRED, f"policy_blocked:r{round_no}")
        self._set_status(InvoiceStatus.APPROVAL_EXPIRED)
        self._policy_blocked = err.detail
        self._operator_override = None
        self._block_takes_corrections = workflow.patched(POLICY_BLOCK_CORRECTIONS)
        self._waiting_for = (
            f"operations: approval policy cannot be met ({err.detail}); an operator decides"
            " (update `decide`)"
            + (
                " or the invoice is corrected (update `correct`)"
                if self._block_takes_corrections
                else ""
            )
        )
        self._update_details()

        def corrected() -> bool:
            return self._block_takes_corrections and self._correction is not None

        while self._operator_override is None:
            self._raise_if_cancelled()
            if corrected():
                self._policy_blocked = None
                self._block_takes_corrections = False
                return None
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._operator_override is not None
                        or corrected()
                        or self._cancel is not None
                    ),
                    timeout=options.OVERDUE_RECHECK,
                )
            except TimeoutError:
                continue
        decision, self._operator_override = self._operator_override, None
        self._policy_blocked = None
        await self._record_decision(
            decision,
            decision.decision,
            f"operator:{decision.operator}",
            f"{self._request.invoice_id}:policy:r{round_no}",
            workflow.now(),
            decision.reason,
        )
        return decision

    async def _record_decision(
        self,
        data: DecideInput,
        decision: str,
        actor: str,
        request_id: str,
        at: datetime,
        reason: str | None,
    ) -> None:
        """Audit a decision. Bounded retries: the decision stands (it is in history) even
        if the audit write fails, and a click must never hang on it.

        An ordinary activity (patch DECISION_WRITES): it runs only once the workflow task
        that accepted the decision is in history. A local activity ran inside that task,
        so when the task was lost (a speculative update task, a task retried after a
        failure) the write of a decision the history never accepted stayed.
        """
        record = RecordDecisionInput(
            invoice_id=self._request.invoice_id,
            request_id=request_id,
            decision=decision,
            reason=reason,
            actor=actor,
            ip=data.ip,
            user_agent=data.user_agent,
            at=at,
        )
        try:
            if workflow.patched(DECISION_WRITES):
                await workflow.execute_activity_method(
                    ApprovalActivities.record_decision,
                    record,
                    start_to_close_timeout=options.STORE_TIMEOUT,
                    retry_policy=options.AUDIT_RETRY,
                )
            else:
                await workflow.execute_local_activity_method(
                    ApprovalActivities.record_decision,
                    record,
                    start_to_close_timeout=options.STORE_TIMEOUT,
                    retry_policy=options.AUDIT_RETRY,
                )
        except ActivityError as err:
            workflow.logger.error("approval.audit_failed", extra={"error": str(err.cause)})

    @workflow.update(name="decide")
    async def decide(self, data: DecideInput) -> DecideResult:
        """A decision from an approval link (or from operations, with `operator` set)."""
        approval = self._approval
        if approval is None:  # only an operator reaches here: the policy could not be met
            if self._policy_blocked is None or self._operator_override is not None:
                return DecideResult(outcome="chain_closed", status=self._status.value)
            self._operator_override = data
            answers = {"approve": "chain_complete", "reject": "rejected"}
            code = answers.get(data.decision, "changes_requested")
            if workflow.patched(DECISION_WRITES):
                await self._status_settled(code)
            return DecideResult(outcome=code, status=self._status.value)
        outcome = approval.decide(data)
        if outcome.recorded is None:  # refused after validation (a click in the same task)
            return DecideResult(
                outcome=outcome.code, status=self._status.value, earlier=outcome.earlier
            )
        # Set before the first await: a second click in this task sees the level decided.
        approval.state = outcome.state
        recorded = outcome.recorded
        actor = f"operator:{data.operator}" if data.operator else recorded.approver_id
        request_id = data.request_id or approval.request_id_for(
            recorded.approver_id, recorded.level_index
        )
        writes_after = workflow.patched(DECISION_WRITES)
        self._recording += writes_after  # holds the main loop's status writes until done
        try:
            await self._record_decision(
                data, recorded.decision, actor, request_id, recorded.at, recorded.reason
            )
        finally:
            self._recording -= writes_after
        if writes_after:
            await self._status_settled(outcome.code)
        return DecideResult(outcome=outcome.code, status=self._status.value)

    async def _status_settled(self, code: str) -> None:
        """Wait until the stored and live status say what the decision made of the
        invoice, so the click's answer reports the status after it."""
        after = status_after(code)
        if after is not None:
            await workflow.wait_condition(lambda: self._status in (after, InvoiceStatus.CANCELLED))

    @decide.validator
    def _validate_decide(self, data: DecideInput) -> None:
        """Refuse here, and the click writes nothing to history."""
        if self._cancel is not None:
            raise ApplicationError("the invoice was cancelled", type="chain_closed")
        approval = self._approval
        if data.operator is not None:
            if not data.operator.strip():
                raise ApplicationError("operator name is empty", type="not_your_approval")
            if approval is None and self._policy_blocked is None:
                raise ApplicationError("no approval is pending", type="level_not_active")
            if approval is not None and approval.state.status not in ("pending", "expired"):
                raise ApplicationError("the approval is already settled", type="chain_closed")
            return
        if approval is None:
            raise ApplicationError("no approval is pending", type="level_not_active")
        if data.round != approval.round:
            raise ApplicationError(
                "the invoice changed since this link was sent", type="version_changed"
            )
        refusal = check_decision(
            approval.chain,
            approval.state,
            approver_id=data.approver_id or "",
            level_index=data.level_index if data.level_index is not None else -1,
            decision=data.decision,
            version=data.version or 0,
        )
        if refusal is not None:
            earlier = refusal.earlier.model_dump(mode="json") if refusal.earlier else None
            raise ApplicationError(refusal.code, earlier, type=refusal.code)

    @workflow.update(name="correct")
    async def correct(self, data: CorrectInput) -> str:
        """New lines for an invoice an approver sent back."""
        self._correction = data
        return "accepted"

    @correct.validator
    def _validate_correct(self, data: CorrectInput) -> None:
        if self._cancel is not None:
            raise ApplicationError("the invoice was cancelled", type="not_correctable")
        if self._status not in (InvoiceStatus.CHANGES_REQUESTED, InvoiceStatus.APPROVAL_EXPIRED):
            raise ApplicationError(
                "only an invoice sent back by its approvers can be corrected"
                f" (it is {self._status.value})",
                type="not_correctable",
            )
        if self._policy_blocked is not None and not self._block_takes_corrections:
            # a process from before corrections could end a policy block: it would ignore it
            raise ApplicationError(
                "the approval policy cannot be met; an operator decides (update `decide`)",
                type="not_correctable",
            )
        if not data.items and not data.lines:
            raise ApplicationError("a correction needs items or lines", type="empty_invoice")
        if self._revising or self._correction is not None:
            raise ApplicationError("a correction is already being applied", type="not_correctable")

    async def _deliver(self, invoice: InvoiceSnapshot) -> None:
        try:
            delivered = await workflow.execute_activity_method(
                DeliveryActivities.deliver_invoice,
                DeliverInvoiceInput(invoice=invoice),
                start_to_close_timeout=options.DELIVERY_TIMEOUT,
                heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                retry_policy=options.DELIVERY_RETRY,
            )
        except ActivityError as err:
            # A permanent failure (e.g. the mailbox does not exist) must not lose the
            # invoice: it stays issued and collectable, flagged for operations.
            workflow.logger.warning("invoice.delivery_failed", extra={"error": str(err.cause)})
            workflow.upsert_search_attributes([sa.EXCEPTION_REASON.value_set("delivery_failed")])
            cause = err.cause  # the link exists even if no message reached the customer
            if isinstance(cause, ApplicationError) and cause.details:
                found = cause.details[0]
                self._payment_url = found.get("payment_url") if isinstance(found, dict) else None
            return
        self._payment_url = delivered.payment_url

    async def _post_invoice(self, invoice: InvoiceSnapshot) -> PostingResult | None:
        try:
            result = await workflow.execute_activity_method(
                AccountingActivities.post_invoice,
                PostInvoiceInput(invoice=invoice),
                start_to_close_timeout=options.ACCOUNTING_TIMEOUT,
                heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                retry_policy=options.ACCOUNTING_RETRY,
            )
        except ActivityError as err:
            self._accounting_refused(err)
            return None
        self._accounting_invoice_ref = result.external_id
        return result

    def _accounting_refused(self, err: ActivityError) -> None:
        # Outages are retried without limit; only a refusal (bad data) ends up here, and it
        # needs a person: flag it for operations rather than fail the invoice process.
        workflow.logger.error("accounting.refused", extra={"error": str(err.cause)})
        workflow.upsert_search_attributes([sa.EXCEPTION_REASON.value_set("accounting_refused")])

    async def _post_payment(
        self,
        invoice: InvoiceSnapshot,
        payment: PaymentReceived,
        invoice_posted: asyncio.Future[Any],
    ) -> PostingResult | None:
        if await invoice_posted is None:  # accounting has no invoice to attach the payment to
            return None
        try:
            result = await workflow.execute_activity_method(
                AccountingActivities.post_payment,
                PostPaymentInput(
                    invoice=invoice,
                    payment_id=payment.payment_id,
                    amount_minor=payment.amount_minor,
                    paid_at=payment.paid_at,
                ),
                start_to_close_timeout=options.ACCOUNTING_TIMEOUT,
                heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                retry_policy=options.ACCOUNTING_RETRY,
            )
        except ActivityError as err:
            self._accounting_refused(err)
            return None
        self._payments[payment.payment_id].accounting_ref = result.external_id
        return result

    async def _collect(self, invoice: InvoiceSnapshot, postings: list[asyncio.Future[Any]]) -> None:
        """Apply payments until the balance is settled; mark OVERDUE after the due date."""
        while self._paid_minor < invoice.total_minor or self._pending:
            if self._pending:
                payment = self._pending.pop(0)
                # arrived before the invoice existed, so the signal could not check it
                refusal = self._refusal(payment)
                if refusal and workflow.patched(PAYMENT_REFUSALS):
                    self._refuse_payment(payment, refusal)
                    continue
                await self._apply_payment(invoice, payment)
                postings.append(
                    asyncio.ensure_future(self._post_payment(invoice, payment, postings[0]))
                )
                continue
            self._waiting_for = "payment"
            self._update_details()
            if self._status == InvoiceStatus.OVERDUE:
                timeout = options.OVERDUE_RECHECK
            else:
                timeout = max(overdue_at(invoice) - workflow.now(), timedelta(seconds=1))
            try:
                await workflow.wait_condition(lambda: bool(self._pending), timeout=timeout)
            except TimeoutError:
                if self._status != InvoiceStatus.OVERDUE:
                    await self._set_stored_status(InvoiceStatus.OVERDUE, "overdue")
                    self._set_status(InvoiceStatus.OVERDUE)

    async def _apply_payment(self, invoice: InvoiceSnapshot, payment: PaymentReceived) -> None:
        recorded = await workflow.execute_local_activity_method(
            InvoiceStoreActivities.record_payment,
            RecordPaymentInput(invoice_id=invoice.invoice_id, payment=payment),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        self._paid_minor = recorded.paid_minor
        self._payments[payment.payment_id] = PaymentView(
            payment_id=payment.payment_id,
            amount_minor=payment.amount_minor,
            paid_at=payment.paid_at,
        )
        self._set_status(recorded.status)
        if self._receipts:
            self._notices.append(asyncio.ensure_future(self._send_receipt(invoice, payment)))

    async def _set_stored_status(
        self, status: InvoiceStatus, step: str, *, actor: str = "workflow", note: str | None = None
    ) -> None:
        if self._recording:  # a decision accepted in this task: its write goes first
            await workflow.wait_condition(lambda: not self._recording)
        await workflow.execute_local_activity_method(
            InvoiceStoreActivities.set_status,
            SetStatusInput(
                invoice_id=self._request.invoice_id,
                status=status,
                step_key=step,
                actor=actor,
                note=note,
            ),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )

    def _rejected(self, code: str, reason: str | None) -> InvoiceResult:
        self._rejection = reason
        self._waiting_for = None
        self._set_status(InvoiceStatus.REJECTED)
        workflow.upsert_search_attributes([sa.EXCEPTION_REASON.value_set(code)])
        workflow.set_current_details(f"**Rejected**: {reason}")
        return InvoiceResult(
            invoice_id=self._request.invoice_id,
            status=InvoiceStatus.REJECTED,
            rejection_reason=reason,
        )

    # --- Temporal UI: search attributes and details ------------------------------

    def _set_status(self, status: InvoiceStatus, number: str | None = None) -> None:
        self._status = status
        updates: list[SearchAttributeUpdate[Any]] = [sa.INVOICE_STATUS.value_set(status.value)]
        if self._invoice is not None:
            updates.append(sa.AMOUNT_DUE.value_set(self._balance()))
        if number is not None and self._invoice is not None:
            updates += [
                sa.INVOICE_NUMBER.value_set(number),
                sa.CURRENCY.value_set(self._invoice.currency),
                sa.DUE_DATE.value_set(
                    datetime.combine(self._invoice.due_date, time.min, tzinfo=UTC)
                ),
            ]
        workflow.upsert_search_attributes(updates)

    def _balance(self) -> int:
        if self._invoice is None or self._status == InvoiceStatus.CANCELLED:
            return 0
        return self._invoice.total_minor - self._paid_minor

    def _update_details(self) -> None:
        invoice = self._invoice
        if invoice is None:
            workflow.set_current_details(f"Waiting for: {self._waiting_for}")
            return
        head = (
            f"**{invoice.number}** · {invoice.customer_name} · "
            f"{format_amount(invoice.total_minor, invoice.currency)} · {self._status.value}"
        )
        due = f"due {invoice.due_date.isoformat()}"
        balance = f"balance {format_amount(self._balance(), invoice.currency)}"
        if self._waiting_for == "payment":
            until = (
                f"overdue since {overdue_at(invoice).date().isoformat()}; next check "
                if self._status == InvoiceStatus.OVERDUE
                else "until "
            )
            deadline = workflow.now() + options.OVERDUE_RECHECK
            when = deadline if self._status == InvoiceStatus.OVERDUE else overdue_at(invoice)
            waits = (
                f"Waiting for payment from {invoice.customer_name} ({balance}, {due}), "
                f"{until}{when:%Y-%m-%d %H:%M} UTC"
            )
        elif self._waiting_for:
            waits = f"Waiting for: {self._waiting_for} ({balance}, {due})"
        else:
            waits = f"Closed ({balance})"
        workflow.set_current_details(f"{head}\n\n{waits}")

    # --- signals and queries -----------------------------------------------------

    @workflow.signal(name="payment_received")
    def payment_received(self, payment: PaymentReceived) -> None:
        """A payment from the provider's webhook; duplicates (same payment id) are ignored."""
        if self._receipts is None:
            self._receipts = workflow.patched(PAYMENT_RECEIPTS)
        if payment.payment_id in self._seen_payment_ids:
            return
        refusal = self._refusal(payment)
        if refusal is not None and self._invoice is not None:
            workflow.logger.warning(
                "invoice.payment_refused",
                extra={"payment_id": payment.payment_id, "reason": refusal},
            )
            if workflow.patched(PAYMENT_REFUSALS):
                self._seen_payment_ids.add(payment.payment_id)
                self._refuse_payment(payment, refusal)
                return
            if payment.currency != self._invoice.currency:  # as before the patch
                return
        self._seen_payment_ids.add(payment.payment_id)
        self._pending.append(payment)

    def _refusal(self, payment: PaymentReceived) -> str | None:
        """Why this payment cannot be applied to the invoice, or None (it can, or the
        invoice does not exist yet and it is checked when applied)."""
        if payment.amount_minor <= 0:
            return f"the amount {payment.amount_minor} is not positive"
        if self._invoice is not None and payment.currency != self._invoice.currency:
            return f"paid in {payment.currency}, the invoice is in {self._invoice.currency}"
        return None

    def _refuse_payment(self, payment: PaymentReceived, reason: str) -> None:
        """Keep it in view and flag the invoice: the money is at the provider, and a person
        must refund it or apply it by hand."""
        self._refused_payments.append(
            RefusedPayment(
                payment_id=payment.payment_id,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                paid_at=payment.paid_at,
                source=payment.source,
                reason=reason,
            )
        )
        workflow.upsert_search_attributes([sa.EXCEPTION_REASON.value_set("payment_refused")])

    def _approval_view(self) -> dict[str, Any] | None:
        approval = self._approval
        if approval is None:
            return {"blocked": self._policy_blocked} if self._policy_blocked else None
        return {
            "round": approval.round,
            "status": approval.state.status,
            # an approved chain's active_level is one past its last level
            "level": min(approval.state.active_level + 1, len(approval.chain.levels)),
            "levels": len(approval.chain.levels),
            "rule": approval.chain.rule_description,
            "waiting_on": [p.name for p in waiting_on(approval.chain, approval.state)],
            "decisions": [d.model_dump(mode="json") for d in approval.state.decisions],
            "correction_refused": self._correction_refused,
            "undelivered": dict(approval.undelivered),
        }

    @workflow.query(name="state")
    def state(self) -> InvoiceState:
        invoice = self._invoice
        return InvoiceState(
            invoice_id=self._request.invoice_id,
            status=self._status,
            number=invoice.number if invoice else None,
            customer_id=self._request.customer_id,
            currency=invoice.currency if invoice else self._request.currency,
            total_minor=invoice.total_minor if invoice else None,
            paid_minor=self._paid_minor,
            balance_minor=self._balance() if invoice else None,
            due_date=invoice.due_date if invoice else None,
            waiting_for=self._waiting_for,
            version=self._version,
            approval=self._approval_view(),
            rejection_reason=self._rejection,
            payment_url=self._payment_url,
            accounting_invoice_ref=self._accounting_invoice_ref,
            payments=list(self._payments.values()),
            refused_payments=list(self._refused_payments),
        )
