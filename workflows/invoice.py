"""The invoice workflow: one customer invoice from generation to close, as its stages.

generate + number → match (when it names or needs a PO) → approve (when a rule asks) →
deliver → collect, with accounting posts
alongside → close. Each stage is a module of ``workflows.stages`` with its own state; this
class runs them in order, owns the Temporal handlers (updates, the payment signal, the
`state` query) and hands each to its stage. Adding a stage is a module and a line in `run`.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.store import InvoiceStoreActivities
    from schemas.accounting_sync import ResyncRequest, ResyncResult
    from schemas.approval import CorrectInput, DecideInput, DecideResult
    from schemas.disputes import DisputeOpened, OpenDisputeInput
    from schemas.invoice import (
        CancelInvoiceInput,
        CancelInvoiceResult,
        CreateInvoiceInput,
        InvoiceResult,
        InvoiceSnapshot,
        InvoiceState,
        InvoiceStatus,
        PaymentReceived,
        ResendInvoiceInput,
        ResendInvoiceResult,
        StartInvoiceInput,
    )
    from schemas.matching import ResolveExceptionInput, ResolveExceptionResult
    from schemas.payment_checks import PaymentClaimed
    from workflows import options
    from workflows.process import Cancelled, InvoiceProcess
    from workflows.stages.approve import ApprovalStage
    from workflows.stages.collect import CollectionStage
    from workflows.stages.credit import CustomerCreditStage
    from workflows.stages.deliver import DeliveryStage
    from workflows.stages.dispute import DisputeStage
    from workflows.stages.match import MatchStage
    from workflows.stages.post import AccountingStage
    from workflows.stages.remind import ReminderStage

# Not issued yet: an invoice in these states can be cancelled (update `cancel`).
CANCELLABLE = (
    InvoiceStatus.EXCEPTION,
    InvoiceStatus.AWAITING_APPROVAL,
    InvoiceStatus.CHANGES_REQUESTED,
    InvoiceStatus.APPROVAL_EXPIRED,
)


@workflow.defn(name="Invoice")
class InvoiceWorkflow:
    @workflow.init
    def __init__(self, request: StartInvoiceInput) -> None:
        self._process = InvoiceProcess(request)
        self._rejection: str | None = None
        self._match_required = False
        self._matching = MatchStage(self._process)
        self._approval = ApprovalStage(self._process, after_correction=self._matching.rematch)
        self._delivery = DeliveryStage(self._process)
        self._accounting = AccountingStage(self._process)
        self._collection = CollectionStage(self._process, self._accounting)
        self._credits = CustomerCreditStage(self._process, self._accounting)
        self._disputes = DisputeStage(self._process, self._accounting, self._credits)
        self._reminders = ReminderStage(self._process)

    @workflow.run
    async def run(self, request: StartInvoiceInput) -> InvoiceResult:
        result = await self._run(request)
        # an update accepted just before the end (a resolution, a click) gets its answer
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _run(self, request: StartInvoiceInput) -> InvoiceResult:
        p = self._process
        invoice = await self._generate(request)
        if invoice is None:
            return self._rejected()
        try:
            if self._match_required:
                invoice = p.invoice = await self._matching.run(invoice)
            invoice = p.invoice = await self._approval.run(invoice)
            p.raise_if_cancelled()  # accepted in the last step's final moments: cancel wins
        except Cancelled:
            return await self._cancelled(invoice)
        p.set_status(InvoiceStatus.ISSUED, invoice.number, *self._accounting.pending())
        p.waits_for("delivery to the customer")
        invoice = await self._delivery.run(invoice)
        if invoice.credits_applied:
            p.set_status(InvoiceStatus.ISSUED)  # the amount due, less the account credit
        self._accounting.start(invoice)
        self._credits.post_allocations(invoice)
        self._reminders.start(invoice)
        while True:
            await self._collection.run(invoice)
            if self._disputes.running:  # settled but disputed: the remedy decides
                await self._wait_for_disputes()
                continue
            p.waits_for("accounting posts")
            await self._accounting.settled()
            if not self._collection.pending and not self._disputes.running:
                break  # a payment or a dispute that arrived meanwhile is dealt with first
        await self._disputes.settled()
        if p.replaced_by is not None:
            return await self._voided(invoice)
        await p.store_status(InvoiceStatus.CLOSED, "close")
        p.set_status(InvoiceStatus.CLOSED)
        await self._collection.after_close(invoice)
        p.waits_for(None)
        return InvoiceResult(
            invoice_id=request.invoice_id,
            status=p.status,
            number=invoice.number,
            paid_minor=p.paid_minor,
        )

    async def _wait_for_disputes(self) -> None:
        p = self._process
        p.waits_for("the open disputes' outcome")
        seen = p.adjustments
        await workflow.wait_condition(
            lambda: (
                not self._disputes.running
                or bool(self._collection.pending)
                or p.adjustments != seen
            )
        )

    # --- generate, reject, cancel --------------------------------------------------------

    async def _generate(self, request: StartInvoiceInput) -> InvoiceSnapshot | None:
        """Generate and number (one local activity, one transaction), or store the refusal."""
        created = await workflow.execute_local_activity_method(
            InvoiceStoreActivities.create_invoice,
            CreateInvoiceInput(
                request=request, issue_date=request.issue_date or workflow.now().date()
            ),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        if created.invoice is None:
            self._rejection = created.rejection_reason
            self._process.flag(created.rejection_code or "rejected")
            return None
        self._process.invoice = created.invoice
        self._match_required = created.match_required
        return created.invoice

    async def _voided(self, invoice: InvoiceSnapshot) -> InvoiceResult:
        """Replaced by an adjusted invoice: VOID, once the void is posted to accounting."""
        p = self._process
        p.waits_for("accounting posts")
        await self._accounting.settled()
        p.waiting_for = None
        workflow.set_current_details(
            f"**{invoice.number}** · {invoice.customer_name} · **Void**: replaced by the"
            f" adjusted invoice {p.replaced_by} (workflow invoice-{p.replaced_by})"
        )
        return InvoiceResult(
            invoice_id=p.request.invoice_id, status=InvoiceStatus.VOID, number=invoice.number
        )

    def _rejected(self) -> InvoiceResult:
        p = self._process
        p.waiting_for = None
        p.set_status(InvoiceStatus.REJECTED)
        workflow.set_current_details(f"**Rejected**: {self._rejection}")
        return InvoiceResult(
            invoice_id=p.request.invoice_id,
            status=InvoiceStatus.REJECTED,
            rejection_reason=self._rejection,
        )

    async def _cancelled(self, invoice: InvoiceSnapshot) -> InvoiceResult:
        """Withdrawn before it was issued: stored and shown as CANCELLED with who and why.
        The number stays allocated (the series stays gapless) and nothing is owed."""
        p = self._process
        cancel = p.cancel
        assert cancel is not None
        await p.store_status(
            InvoiceStatus.CANCELLED, "cancelled", actor=cancel.cancelled_by, note=cancel.reason
        )
        p.set_status(InvoiceStatus.CANCELLED)
        p.flag(None)
        p.waiting_for = None
        workflow.set_current_details(
            f"**{invoice.number}** · {invoice.customer_name} · **Cancelled** by"
            f" {cancel.cancelled_by}: {cancel.reason}"
        )
        return InvoiceResult(
            invoice_id=p.request.invoice_id, status=InvoiceStatus.CANCELLED, number=invoice.number
        )

    # --- updates: what people do (links, the API, the Temporal UI) -----------------------

    @workflow.update(name="decide")
    async def decide(self, data: DecideInput) -> DecideResult:
        """A decision from an approval link (or from operations, with `operator` set)."""
        return await self._approval.decide(data)

    @decide.validator
    def _validate_decide(self, data: DecideInput) -> None:
        """Refuse here, and the click writes nothing to history."""
        self._approval.validate_decide(data)

    @workflow.update(name="resolve_exception")
    async def resolve_exception(self, data: ResolveExceptionInput) -> ResolveExceptionResult:
        """A PO exception's resolution: from the review link, the API or the Temporal UI
        (``{"person_id": "ann", "operator": true, "resolution": "accept_variance",
        "justification": "agreed with the buyer"}``)."""
        return await self._matching.resolve(data)

    @resolve_exception.validator
    def _validate_resolve_exception(self, data: ResolveExceptionInput) -> None:
        if self._process.cancel is not None:
            raise ApplicationError("the invoice was cancelled", type="no_exception")
        self._matching.validate_resolve(data)

    @workflow.signal(name="po_changed")
    def po_changed(self) -> None:
        """The invoice's PO was amended or received against: an exception matches again."""
        self._matching.po_changed()

    @workflow.update(name="open_dispute")
    async def open_dispute(self, data: OpenDisputeInput) -> DisputeOpened:
        """A customer disputes (part of) the issued invoice: from the portal or
        `POST /invoices/{id}/disputes`; send it with the update id `data.request_id`."""
        return await self._disputes.open_dispute(data)

    @open_dispute.validator
    def _validate_open_dispute(self, data: OpenDisputeInput) -> None:
        self._disputes.validate_open(data)

    @workflow.update(name="correct")
    async def correct(self, data: CorrectInput) -> str:
        """New lines for an invoice an approver sent back."""
        return self._approval.correct(data)

    @correct.validator
    def _validate_correct(self, data: CorrectInput) -> None:
        self._approval.validate_correct(data)

    @workflow.update(name="cancel")
    async def cancel(self, data: CancelInvoiceInput) -> CancelInvoiceResult:
        """Withdraw an invoice that is not issued yet (an operator can do it from the UI:
        `{"reason": "...", "cancelled_by": "..."}`)."""
        self._process.cancel = data
        await workflow.wait_condition(lambda: self._process.status == InvoiceStatus.CANCELLED)
        return CancelInvoiceResult(status=self._process.status)

    @cancel.validator
    def _validate_cancel(self, data: CancelInvoiceInput) -> None:
        p = self._process
        if p.cancel is not None or p.status == InvoiceStatus.CANCELLED:
            raise ApplicationError("the invoice is already cancelled", type="already_cancelled")
        if p.status not in CANCELLABLE:
            raise ApplicationError(
                f"only an invoice that is not issued yet can be cancelled (it is"
                f" {p.status.value}); an issued invoice is corrected by a credit note",
                type="not_cancellable",
            )
        if self._approval.revising:
            raise ApplicationError(
                "a correction is being applied; try again in a moment", type="not_cancellable"
            )

    @workflow.update(name="resend")
    async def resend(self, data: ResendInvoiceInput) -> ResendInvoiceResult:
        """E-mail the issued invoice again, with its payment link. Send it with the update
        id `data.request_id`: a repeated request is the same update and sends nothing more."""
        return await self._delivery.resend(data)

    @resend.validator
    def _validate_resend(self, data: ResendInvoiceInput) -> None:
        self._delivery.validate_resend(data)

    @workflow.update(name="resync")
    async def resync(self, data: ResyncRequest) -> ResyncResult:
        """Post again what accounting lacks of this invoice (`POST /invoices/{id}/resync`)."""
        return await self._accounting.resync(data)

    @resync.validator
    def _validate_resync(self, data: ResyncRequest) -> None:
        self._accounting.validate_resync(data)

    # --- the payment signal and the state query ------------------------------------------

    @workflow.signal(name="payment_received")
    def payment_received(self, payment: PaymentReceived) -> None:
        """A payment from the provider's webhook; duplicates (same payment id) are ignored."""
        self._collection.received(payment)

    @workflow.signal(name="payment_claimed")
    def payment_claimed(self, claim: PaymentClaimed) -> None:
        """The customer says they paid (the portal's "I have paid"): ask the provider now."""
        self._collection.checks.claimed(claim)

    @workflow.signal(name="reminders_changed")
    def reminders_changed(self) -> None:
        """A reminder hold on the invoice or its customer was placed or released."""
        self._reminders.nudge()

    @workflow.query(name="state")
    def state(self) -> InvoiceState:
        p = self._process
        invoice = p.invoice
        return InvoiceState(
            invoice_id=p.request.invoice_id,
            status=p.status,
            number=invoice.number if invoice else None,
            customer_id=p.request.customer_id,
            currency=invoice.currency if invoice else p.request.currency,
            total_minor=invoice.total_minor if invoice else None,
            paid_minor=p.paid_minor,
            balance_minor=p.balance() if invoice else None,
            due_date=invoice.due_date if invoice else None,
            waiting_for=p.waiting_for,
            version=p.version,
            approval=self._approval.view(),
            match=self._matching.view(),
            rejection_reason=self._rejection,
            payment_url=p.payment_url,
            accounting_invoice_ref=self._accounting.invoice_ref,
            payments=list(self._collection.payments.values()),
            refused_payments=list(self._collection.refused),
            disputes=self._disputes.view(),
            disputed_minor=p.disputed_minor,
            credited_minor=p.credited_minor,
            written_off_minor=p.written_off_minor,
            refunded_minor=p.refunded_minor,
            credit_applied_minor=invoice.credit_applied_minor if invoice else 0,
            credit_carried_minor=p.credit_carried_minor,
            reminders=self._reminders.view(),
            next_reminder_at=self._reminders.next_due,
            reminders_waiting=self._reminders.waiting,
        )
