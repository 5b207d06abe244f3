"""The approval stage: rounds of approval links until one approves the invoice.

A rejection (or a request for changes) waits for a correction and starts a new round with a
new version and new links; a policy that cannot be met waits for an operator or a
correction; an expired round waits for an operator. Decisions and corrections arrive
through the workflow's `decide` and `correct` updates, which call into this stage.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.approval import ApprovalActivities
    from domain.approval import (
        ApprovalPolicyError,
        ApprovalSubject,
        approval_chain,
        check_decision,
        waiting_on,
    )
    from schemas.approval import (
        CorrectInput,
        DecideInput,
        DecideResult,
        LoadApprovalContextInput,
        RecordDecisionInput,
        ReviseInvoiceInput,
    )
    from schemas.invoice import InvoiceSnapshot, InvoiceStatus
    from workflows import options
    from workflows.approval import ApprovalRound, status_after
    from workflows.human_task import run_task
    from workflows.process import InvoiceProcess


class ApprovalStage:
    def __init__(
        self,
        process: InvoiceProcess,
        after_correction: Callable[[InvoiceSnapshot], Awaitable[InvoiceSnapshot]] | None = None,
    ) -> None:
        self._p = process
        # a corrected invoice is matched against its PO again before its next round
        self._after_correction = after_correction
        self.round: ApprovalRound | None = None
        self._correction: CorrectInput | None = None
        self._correction_refused: str | None = None
        self._last_correction_by: str | None = None
        self._operator_override: DecideInput | None = None
        self._policy_blocked: str | None = None
        self._revising = False

    # --- the stage -----------------------------------------------------------------------

    async def run(self, invoice: InvoiceSnapshot) -> InvoiceSnapshot:
        """The invoice to issue: approved, or needing no approval. Raises Cancelled."""
        p = self._p
        context = await workflow.execute_local_activity_method(
            ApprovalActivities.load_context,
            LoadApprovalContextInput(invoice_id=invoice.invoice_id),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        created_by = p.request.created_by or p.request.requested_by
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
                version=p.version,
            )
            round_no += 1
            self.round = None
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
                approval = self.round = ApprovalRound(
                    chain,
                    context,
                    round_no,
                    invoice,
                    on_expired=self._on_expired,
                    stopped=lambda: self._correction is not None,
                )
                if round_no == 1:
                    p.set_status(InvoiceStatus.AWAITING_APPROVAL, number=invoice.number)
                await p.store_status(InvoiceStatus.AWAITING_APPROVAL, f"approval:r{round_no}")
                p.set_status(InvoiceStatus.AWAITING_APPROVAL)
                await run_task(approval, p)
                if approval.state.status == "approved":
                    return await self._approved(invoice)
                decisions = approval.state.decisions
                note = decisions[-1].reason if decisions else None
            invoice = p.invoice = await self._await_correction(round_no, note)
            if self._after_correction is not None:
                invoice = p.invoice = await self._after_correction(invoice)
            last_changed_by = self._last_correction_by or last_changed_by

    async def _approved(self, invoice: InvoiceSnapshot) -> InvoiceSnapshot:
        """Store the move to ISSUED and clear any flag operations had on the approval."""
        self._p.raise_if_cancelled()  # accepted together with the last approval: cancel wins
        await self._p.store_status(InvoiceStatus.ISSUED, f"approved:v{self._p.version}")
        self._p.flag(None)
        self._policy_blocked = None
        return invoice

    async def _on_expired(self) -> None:
        """Nobody approved in time: store the move and flag it for operations, once."""
        p = self._p
        if p.status != InvoiceStatus.APPROVAL_EXPIRED:
            assert self.round is not None
            await p.store_status(
                InvoiceStatus.APPROVAL_EXPIRED, f"approval_expired:r{self.round.round}"
            )
            p.set_status(InvoiceStatus.APPROVAL_EXPIRED)
            p.flag("approval_expired")

    async def _await_correction(self, round_no: int, note: str | None) -> InvoiceSnapshot:
        """Rejected or changes requested: wait for the corrected lines, then revise."""
        p = self._p
        await p.store_status(InvoiceStatus.CHANGES_REQUESTED, f"changes_requested:r{round_no}")
        p.set_status(InvoiceStatus.CHANGES_REQUESTED)
        while True:
            p.raise_if_cancelled()
            p.waits_for(
                f"a corrected invoice from {p.request.requested_by} (update `correct`)"
                + (f"; approver's note: {note}" if note else "")
            )
            try:
                await workflow.wait_condition(
                    lambda: self._correction is not None or p.cancel is not None,
                    timeout=options.OVERDUE_RECHECK,
                )
            except TimeoutError:
                continue
            p.raise_if_cancelled()
            correction = self._correction
            assert correction is not None
            self._revising = True  # the `correct` validator refuses a second one meanwhile
            try:
                revised = await workflow.execute_local_activity_method(
                    ApprovalActivities.revise,
                    ReviseInvoiceInput(
                        invoice_id=p.request.invoice_id,
                        correction=correction,
                        version=p.version + 1,
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
            p.version += 1
            self._last_correction_by = correction.changed_by
            self._correction_refused = None
            return revised.invoice

    async def _blocked_by_policy(
        self, err: ApprovalPolicyError, round_no: int
    ) -> DecideInput | None:
        """The policy cannot be met (e.g. separation of duties leaves too few approvers):
        flag it and wait for an operator's decision, or for corrected lines (None); never
        issue unapproved."""
        p = self._p
        p.flag(err.code)
        await p.store_status(InvoiceStatus.APPROVAL_EXPIRED, f"policy_blocked:r{round_no}")
        p.set_status(InvoiceStatus.APPROVAL_EXPIRED)
        self._policy_blocked = err.detail
        self._operator_override = None
        p.waits_for(
            f"operations: approval policy cannot be met ({err.detail}); an operator decides"
            " (update `decide`) or the invoice is corrected (update `correct`)"
        )
        while self._operator_override is None:
            p.raise_if_cancelled()
            if self._correction is not None:
                self._policy_blocked = None
                return None
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._operator_override is not None
                        or self._correction is not None
                        or p.cancel is not None
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
            f"{p.request.invoice_id}:policy:r{round_no}",
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

        An ordinary activity: it runs only once the workflow task that accepted the
        decision is in history. A local activity would run inside that task, and when the
        task was lost (a speculative update task, a task retried after a failure) the write
        of a decision the history never accepted would stay.
        """
        record = RecordDecisionInput(
            invoice_id=self._p.request.invoice_id,
            request_id=request_id,
            decision=decision,
            reason=reason,
            actor=actor,
            ip=data.ip,
            user_agent=data.user_agent,
            at=at,
        )
        try:
            await workflow.execute_activity_method(
                ApprovalActivities.record_decision,
                record,
                start_to_close_timeout=options.STORE_TIMEOUT,
                retry_policy=options.AUDIT_RETRY,
            )
        except ActivityError as err:
            workflow.logger.error("approval.audit_failed", extra={"error": str(err.cause)})

    # --- the updates ---------------------------------------------------------------------

    async def decide(self, data: DecideInput) -> DecideResult:
        p = self._p
        approval = self.round
        if approval is None:  # only an operator reaches here: the policy could not be met
            if self._policy_blocked is None or self._operator_override is not None:
                return DecideResult(outcome="chain_closed", status=p.status.value)
            self._operator_override = data
            answers = {"approve": "chain_complete", "reject": "rejected"}
            code = answers.get(data.decision, "changes_requested")
            await self._status_settled(code)
            return DecideResult(outcome=code, status=p.status.value)
        outcome = approval.decide(data)
        if outcome.recorded is None:  # refused after validation (a click in the same task)
            return DecideResult(
                outcome=outcome.code, status=p.status.value, earlier=outcome.earlier
            )
        # Set before the first await: a second click in this task sees the level decided.
        approval.state = outcome.state
        recorded = outcome.recorded
        actor = f"operator:{data.operator}" if data.operator else recorded.approver_id
        request_id = data.request_id or approval.request_id_for(
            recorded.approver_id, recorded.level_index
        )
        p.recording += 1  # holds the main loop's status writes until done
        try:
            await self._record_decision(
                data, recorded.decision, actor, request_id, recorded.at, recorded.reason
            )
        finally:
            p.recording -= 1
        await self._status_settled(outcome.code)
        return DecideResult(outcome=outcome.code, status=p.status.value)

    async def _status_settled(self, code: str) -> None:
        """Wait until the stored and live status say what the decision made of the
        invoice, so the click's answer reports the status after it."""
        after = status_after(code)
        if after is not None:
            await workflow.wait_condition(
                lambda: self._p.status in (after, InvoiceStatus.CANCELLED)
            )

    def validate_decide(self, data: DecideInput) -> None:
        """Refuse here, and the click writes nothing to history."""
        if self._p.cancel is not None:
            raise ApplicationError("the invoice was cancelled", type="chain_closed")
        approval = self.round
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

    def correct(self, data: CorrectInput) -> str:
        self._correction = data
        return "accepted"

    def validate_correct(self, data: CorrectInput) -> None:
        status = self._p.status
        if self._p.cancel is not None:
            raise ApplicationError("the invoice was cancelled", type="not_correctable")
        if status not in (InvoiceStatus.CHANGES_REQUESTED, InvoiceStatus.APPROVAL_EXPIRED):
            raise ApplicationError(
                "only an invoice sent back by its approvers can be corrected"
                f" (it is {status.value})",
                type="not_correctable",
            )
        if not data.items and not data.lines:
            raise ApplicationError("a correction needs items or lines", type="empty_invoice")
        if self._revising or self._correction is not None:
            raise ApplicationError("a correction is already being applied", type="not_correctable")

    @property
    def revising(self) -> bool:
        return self._revising

    # --- the view ------------------------------------------------------------------------

    def view(self) -> dict[str, Any] | None:
        approval = self.round
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
