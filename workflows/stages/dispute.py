"""The dispute stage: an issued invoice's customer disputes part of it.

Intake is the `open_dispute` update (the portal, `POST /invoices/{id}/disputes`): its
validator refuses what `domain.disputes.check_intake` refuses (lines unknown or already
disputed, more than the open balance), so a refused intake writes nothing. Accepted, the
dispute is stored with its number, the invoice shows DISPUTED, and the dispute's own
workflow (`dispute-{id}`) starts as a child. While it runs, its amount is not due: the
collection stage does not mark the invoice overdue for it, and the rest is still
collected. Its outcome comes back here and changes the balance: a credit note (refunded at
the provider when the invoice was paid beyond what it now comes to), a write-off, or
nothing for a rejection; each credit note and write-off is posted to accounting once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.disputes import DisputeActivities
    from activities.remedies import RemedyActivities
    from domain.disputes import (
        DisputeRefused,
        InvoiceFigures,
        OpenDispute,
        check_intake,
        line_gross_amounts,
    )
    from domain.invoicing import ExplicitLine
    from domain.money import format_amount
    from schemas import search_attributes as sa
    from schemas.dispute_flow import (
        DisputeCaseInput,
        DisputeOutcome,
        PlanInForce,
        RecordDisputeInput,
        VoidInvoiceInput,
    )
    from schemas.disputes import DisputeOpened, OpenDisputeInput
    from schemas.ids import invoice_workflow_id
    from schemas.invoice import OPEN_STATUSES, InvoiceSnapshot, InvoiceStatus, StartInvoiceInput
    from schemas.remedies import (
        PostCreditNoteInput,
        PostVoidInput,
        PostWriteOffInput,
    )
    from workflows import options
    from workflows.dispute import DisputeWorkflow
    from workflows.process import InvoiceProcess
    from workflows.stages.credit import CustomerCreditStage
    from workflows.stages.post import AccountingStage


class DisputeStage:
    def __init__(
        self, process: InvoiceProcess, accounting: AccountingStage, credits: CustomerCreditStage
    ) -> None:
        self._p = process
        self._accounting = accounting
        self._credits = credits
        self.open: dict[str, OpenDispute] = {}  # by request id while opening, then dispute id
        self.opened: dict[str, DisputeOpened] = {}  # by request id
        self.outcomes: list[DisputeOutcome] = []
        self._running: list[asyncio.Future[Any]] = []
        self._handles: dict[str, workflow.ChildWorkflowHandle[Any, DisputeOutcome]] = {}
        process.on_payment.append(self._payment_taken)

    # --- intake ----------------------------------------------------------------------------

    def _figures(self, invoice: InvoiceSnapshot) -> InvoiceFigures:
        p = self._p
        return InvoiceFigures(
            currency=invoice.currency,
            total_minor=invoice.total_minor,
            paid_minor=p.paid_minor + invoice.credit_applied_minor,  # credit taken: paid
            credited_minor=p.credited_minor,
            written_off_minor=p.written_off_minor,
            lines=tuple(line_gross_amounts(invoice.lines, invoice.tax_lines)),
        )

    def _check(self, data: OpenDisputeInput) -> tuple[InvoiceSnapshot, int, tuple[int, ...]]:
        p = self._p
        invoice = p.invoice
        if invoice is None or p.status not in OPEN_STATUSES:
            raise ApplicationError(
                f"only an issued invoice that is not settled can be disputed (it is"
                f" {p.status.value})",
                type="invoice_not_open",
            )
        try:
            accepted = check_intake(
                self._figures(invoice),
                list(self.open.values()),
                data.intake.lines,
                data.intake.amount_minor,
            )
        except DisputeRefused as refused:
            raise ApplicationError(refused.detail, type=refused.code) from None
        return invoice, accepted.amount_minor, accepted.lines

    def validate_open(self, data: OpenDisputeInput) -> None:
        if data.request_id in self.opened:
            return  # the same intake again: answered with the dispute it opened
        self._check(data)

    async def open_dispute(self, data: OpenDisputeInput) -> DisputeOpened:
        if data.request_id in self.opened:
            return self.opened[data.request_id].model_copy(update={"created": False})
        # checked again before the first await: two intakes validated in one workflow task
        invoice, amount, lines = self._check(data)
        self.open[data.request_id] = OpenDispute(
            dispute_id=data.request_id, lines=lines, amount_minor=amount
        )
        self._p.disputed_minor += amount
        try:
            recorded = await workflow.execute_local_activity_method(
                DisputeActivities.record,
                RecordDisputeInput(
                    dispute_id="",
                    request_id=data.request_id,
                    invoice_id=invoice.invoice_id,
                    customer_id=invoice.customer_id,
                    currency=invoice.currency,
                    reason=data.intake.reason,
                    description=data.intake.description,
                    lines=list(lines),
                    amount_minor=amount,
                    channel=data.channel,
                    opened_by=data.opened_by,
                    evidence_ids=data.evidence_ids,
                ),
                start_to_close_timeout=options.STORE_TIMEOUT,
                retry_policy=options.STORE_RETRY,
            )
        except BaseException:
            del self.open[data.request_id]
            self._p.disputed_minor -= amount
            raise
        opened = recorded.opened
        reserved = self.open.pop(data.request_id)
        self.open[opened.dispute_id] = reserved.model_copy(
            update={"dispute_id": opened.dispute_id, "number": opened.number}
        )
        self.opened[data.request_id] = opened
        self._p.set_status(InvoiceStatus.DISPUTED)
        self._p.update_details()
        case = DisputeCaseInput(
            dispute_id=opened.dispute_id,
            number=opened.number,
            invoice_id=invoice.invoice_id,
            invoice_number=invoice.number,
            customer_id=invoice.customer_id,
            customer_name=invoice.customer_name,
            currency=invoice.currency,
            reason=data.intake.reason,
            lines=list(lines),
            amount_minor=amount,
            opened_at=recorded.opened_at,
            level=recorded.level,
            policy=recorded.policy,
            total_minor=invoice.total_minor,
            paid_minor=self._p.paid_minor,
            credited_minor=self._p.credited_minor,
            written_off_minor=self._p.written_off_minor,
        )
        self._running.append(asyncio.ensure_future(self._run(invoice, case)))
        return opened

    # --- the dispute's outcome ----------------------------------------------------------------

    async def _run(self, invoice: InvoiceSnapshot, case: DisputeCaseInput) -> None:
        try:
            handle = await workflow.start_child_workflow(
                DisputeWorkflow.run,
                case,
                id=f"dispute-{case.dispute_id}",
                parent_close_policy=ParentClosePolicy.ABANDON,
                static_summary=(
                    f"{case.number} · {case.invoice_number} · {case.customer_name} · "
                    f"{format_amount(case.amount_minor, case.currency)} disputed"
                ),
            )
            self._handles[case.dispute_id] = handle
            outcome = await handle
        except ChildWorkflowError as err:
            workflow.logger.error("dispute.failed", extra={"error": str(err.cause)})
            self._p.flag("dispute_failed")
            return
        await self._apply(invoice, outcome)

    def _payment_taken(self) -> None:
        """Tell each open dispute what is paid now (its remedies are checked against it)."""
        for dispute_id, handle in self._handles.items():
            if dispute_id in self.open:
                self._running.append(
                    asyncio.ensure_future(
                        handle.signal(DisputeWorkflow.invoice_paid, self._p.paid_minor)
                    )
                )

    async def _apply(self, invoice: InvoiceSnapshot, outcome: DisputeOutcome) -> None:
        p = self._p
        self.outcomes.append(outcome)
        self._handles.pop(outcome.dispute_id, None)
        if outcome.instalments:
            p.plan = PlanInForce(
                dispute_id=outcome.dispute_id,
                instalments=outcome.instalments,
                base_paid_minor=p.paid_minor,
            )
        p.credited_minor += outcome.credited_minor
        p.written_off_minor += outcome.written_off_minor
        closed = self.open.pop(outcome.dispute_id, None)
        if closed is not None:
            p.disputed_minor -= closed.amount_minor
        if outcome.credit_note_id is not None and outcome.credit_note_number is not None:
            assert outcome.credit_note_issued_at is not None
            self._accounting.post_remedy(
                RemedyActivities.post_credit_note,
                PostCreditNoteInput(
                    invoice_id=invoice.invoice_id,
                    credit_note_id=outcome.credit_note_id,
                    number=outcome.credit_note_number,
                    amount_minor=outcome.credited_minor,
                    currency=invoice.currency,
                    reason=(outcome.credit_reason or "other"),
                    issued_at=outcome.credit_note_issued_at,
                ),
            )
            await self._credits.settle_overpayment(invoice, outcome)
        if outcome.write_off_id is not None and outcome.written_off_minor > 0:
            self._accounting.post_remedy(
                RemedyActivities.post_write_off,
                PostWriteOffInput(
                    invoice_id=invoice.invoice_id,
                    write_off_id=outcome.write_off_id,
                    amount_minor=outcome.written_off_minor,
                    currency=invoice.currency,
                    reason=outcome.note,
                ),
            )
        if outcome.lines:
            await self._replace(invoice, outcome)
        elif not self.open:
            status = InvoiceStatus.PAID if p.balance() <= 0 else p.collecting_status()
            await p.store_status(status, f"dispute-resolved:{outcome.dispute_id}")
            p.set_status(status)
        else:
            p.set_status(InvoiceStatus.DISPUTED)
        p.adjusted()

    async def _replace(self, invoice: InvoiceSnapshot, outcome: DisputeOutcome) -> None:
        """An adjusted invoice: the corrected one starts as an invoice process of its own
        (numbered, delivered and collected like any invoice), and this one is VOID: its
        number kept, linked both ways, the void posted to accounting once."""
        p = self._p
        request = p.request
        replacement = f"inv_{outcome.dispute_id.removeprefix('dsp_')}"
        await workflow.start_child_workflow(
            "Invoice",
            StartInvoiceInput(
                invoice_id=replacement,
                customer_id=request.customer_id,
                customer_name=request.customer_name,
                contract_id=request.contract_id,
                currency=invoice.currency,
                po_number=invoice.po_number,
                lines=[ExplicitLine.model_validate(line) for line in outcome.lines],
                requested_by=f"dispute:{outcome.number}",
                created_by=request.created_by or request.requested_by,
                replaces_invoice_id=invoice.invoice_id,
            ),
            id=invoice_workflow_id(replacement),
            parent_close_policy=ParentClosePolicy.ABANDON,
            search_attributes=sa.at_start(
                invoice_id=replacement,
                customer_id=request.customer_id,
                amount_due_minor=0,
                currency=invoice.currency,
            ),
            static_summary=f"Adjusted invoice of {invoice.number} ({outcome.number})",
        )
        await workflow.execute_local_activity_method(
            DisputeActivities.void_invoice,
            VoidInvoiceInput(
                invoice_id=invoice.invoice_id,
                replaced_by_invoice_id=replacement,
                dispute_id=outcome.dispute_id,
                actor=f"dispute:{outcome.number}",
            ),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        self._accounting.post_remedy(
            RemedyActivities.post_void,
            PostVoidInput(
                invoice_id=invoice.invoice_id,
                replaced_by_invoice_id=replacement,
                reason=f"replaced after dispute {outcome.number}",
            ),
        )
        p.replaced_by = replacement
        p.set_status(InvoiceStatus.VOID)

    # --- what the invoice's process waits for ------------------------------------------------

    @property
    def running(self) -> bool:
        return bool(self.open)

    async def settled(self) -> None:
        """Every dispute opened so far has ended and its outcome is applied."""
        while True:
            running = list(self._running)
            await asyncio.gather(*running)
            if len(running) == len(self._running):
                return

    def view(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for dispute in self.open.values():
            out.append(
                {
                    "dispute_id": dispute.dispute_id,
                    "number": dispute.number,
                    "status": "open",
                    "lines": list(dispute.lines),
                    "amount_minor": dispute.amount_minor,
                }
            )
        for outcome in self.outcomes:
            out.append(
                {
                    "dispute_id": outcome.dispute_id,
                    "number": outcome.number,
                    "status": "resolved",
                    "resolution": outcome.resolution.value,
                    "credit_note_number": outcome.credit_note_number,
                    "credited_minor": outcome.credited_minor,
                    "written_off_minor": outcome.written_off_minor,
                }
            )
        return out
