"""The match stage: before an invoice goes to its approvers or its customer, it is matched
against its PO (and, 3-way, the delivery records); a mismatch waits as a PO exception.

An exception is a human task (`OneDecisionTask`): its owner (by rule, round robin in a
group) gets a signed link to the review page, a reminder, and after a longer wait the
escalation owner takes it over. Resolutions arrive through the `resolve_exception`
update: accept the variance with a justification, correct the lines (matched again),
wait for the customer's PO amendment or a receipt, or cancel. A PO amendment or receipt
arriving (the `po_changed` signal) matches the invoice again at once, and the invoice goes
on by itself when every reason is gone. Consumption of the PO is written once, with the
outcome; a race lost to another invoice matches again with what is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.approval import ApprovalActivities
    from activities.matching import MatchingActivities
    from domain.matching import match_invoice
    from domain.matching.model import MatchOutcome, MatchReasonCode, MatchResult
    from domain.tasks import HumanTask, NoticeKind, Person
    from schemas import search_attributes as sa
    from schemas.approval import CorrectInput, ReviseInvoiceInput
    from schemas.invoice import CancelInvoiceInput, InvoiceSnapshot, InvoiceStatus
    from schemas.matching import (
        ExceptionAssignment,
        LoadMatchInput,
        MatchContext,
        OpenExceptionInput,
        RecordMatchInput,
        ResolveExceptionInput,
        ResolveExceptionResult,
        UpdateExceptionInput,
    )
    from workflows import options
    from workflows.human_task import OneDecisionTask
    from workflows.process import Cancelled, InvoiceProcess

RESOLUTIONS = ("accept_variance", "correct", "cancel")
# Not a variance anyone can accept: an invoice that must name a PO never goes out without
MUST_FIX = (MatchReasonCode.PO_MISSING, MatchReasonCode.PO_OF_ANOTHER_CUSTOMER)


class MatchStage:
    def __init__(self, process: InvoiceProcess) -> None:
        self._p = process
        self.result: MatchResult | None = None
        self.exception: OneDecisionTask | None = None
        self.assignment: ExceptionAssignment | None = None
        self._attempt = 0
        self._exceptions = 0
        self._po_changed = False
        self._resolution: ResolveExceptionInput | None = None
        self._applied = 0  # resolutions the stage has taken up
        self._closed = 0  # exceptions settled (a resolution's answer waits for its own)
        self._accepted = 0
        self.correction_refused: str | None = None

    # --- the stage -----------------------------------------------------------------------

    async def run(self, invoice: InvoiceSnapshot) -> InvoiceSnapshot:
        """The invoice, matched (or accepted) and its PO consumed. Raises Cancelled."""
        try:
            return await self._run(invoice)
        except Cancelled:
            cancel = self._p.cancel
            await self._close("cancel", cancel.cancelled_by if cancel else "workflow", None)
            raise

    async def _run(self, invoice: InvoiceSnapshot) -> InvoiceSnapshot:
        p = self._p
        while True:
            p.raise_if_cancelled()
            self._attempt += 1
            self._po_changed = False
            context = await workflow.execute_local_activity_method(
                MatchingActivities.load,
                LoadMatchInput(invoice_id=invoice.invoice_id),
                start_to_close_timeout=options.STORE_TIMEOUT,
                retry_policy=options.STORE_RETRY,
            )
            result = self.result = _match(context)
            # a resolution accepted while the stage matched again is acted on, not lost
            decision = self._pending()
            if decision is None and result.outcome != MatchOutcome.EXCEPTION:
                if not await self._record(result):
                    continue  # another invoice took what was left: match again
                decision = self._pending()  # accepted while recording
                if decision is None or decision.resolution != "cancel":
                    await self._close("released", "workflow", None)
                    return invoice
            if decision is None:
                decision = await self._wait_for_person(invoice, result)
            if decision is None:  # the PO changed: match again
                continue
            if decision.resolution == "accept_variance":
                if await self._record(result, decision):
                    await self._close("accept_variance", _actor(decision), decision)
                    return invoice
                continue
            if decision.resolution == "correct":
                invoice = p.invoice = await self._revise(invoice, decision)
                continue
            # cancel: the process ends as any cancelled invoice does
            await self._close("cancel", _actor(decision), decision)
            p.cancel = CancelInvoiceInput(
                reason=decision.justification or "cancelled in the exception queue",
                cancelled_by=_actor(decision),
            )
            p.raise_if_cancelled()

    async def _record(
        self, result: MatchResult, accepted: ResolveExceptionInput | None = None
    ) -> bool:
        recorded = await workflow.execute_local_activity_method(
            MatchingActivities.record,
            RecordMatchInput(
                invoice_id=self._p.request.invoice_id,
                result=result,
                accepted_by=_actor(accepted) if accepted else None,
                justification=accepted.justification if accepted else None,
                attempt=self._attempt,
            ),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        return recorded.consumed

    async def _wait_for_person(
        self, invoice: InvoiceSnapshot, result: MatchResult
    ) -> ResolveExceptionInput | None:
        """Open the exception (or carry on with the open one, reasons refreshed) and wait
        for a resolution; None when a PO change asks for a new match first."""
        p = self._p
        details = result.summary()
        if self.exception is not None and self.exception.state.status == "decided":
            await self._close("superseded", "workflow", None)  # never two open at once
        if self.exception is None:
            await self._open(invoice, result, details)
        else:
            await self._update(f"rematched:{self._attempt}", reasons=list(result.reasons))
            self.exception.details = details
        task = self.exception
        assert task is not None
        p.flag(result.flag)
        await task.run()
        if task.state.status != "decided":
            return None  # stopped: the PO changed
        decision = self._pending()
        assert decision is not None
        return decision

    def _pending(self) -> ResolveExceptionInput | None:
        """The resolution the update handler left, taken (its handler then answers)."""
        decision, self._resolution = self._resolution, None
        if decision is not None:
            self._applied += 1
        return decision

    async def _open(self, invoice: InvoiceSnapshot, result: MatchResult, details: str) -> None:
        p = self._p
        self._exceptions += 1
        exception_id = f"exc_{invoice.invoice_id}_{self._exceptions}"
        assignment = self.assignment = await workflow.execute_local_activity_method(
            MatchingActivities.open_exception,
            OpenExceptionInput(
                invoice_id=invoice.invoice_id,
                exception_id=exception_id,
                customer_id=invoice.customer_id,
                po_number=invoice.po_number,
                reasons=list(result.reasons),
            ),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        po = f"PO {invoice.po_number}" if invoice.po_number else "its PO"
        task = HumanTask(
            task_id=exception_id,
            kind="po_exception",
            title=f"Invoice {invoice.number} does not match {po}",
            owners=tuple(assignment.owners[:1]),
            group=tuple(assignment.owners[1:]),
            backup=assignment.backup,
            escalation_group=tuple(assignment.escalation_group),
            choices=RESOLUTIONS,
            noting=("wait",),
            timers=assignment.timers,
        )
        self.exception = OneDecisionTask(
            task,
            p,
            invoice_id=invoice.invoice_id,
            details=details,
            stopped=lambda: self._po_changed,
            link_path=assignment.link_path,
            on_notice=self._on_notice,
        )
        await p.store_status(InvoiceStatus.EXCEPTION, f"exception:{self._exceptions}")
        p.set_status(InvoiceStatus.EXCEPTION, number=invoice.number)
        owner = assignment.owners[0].person_id if assignment.owners else "operations"
        workflow.upsert_search_attributes([sa.EXCEPTION_OWNER.value_set(owner)])

    async def _on_notice(self, kind: NoticeKind, people: Sequence[Person]) -> None:
        """On escalation the escalation owner takes the exception over: stored, and in
        `ExceptionOwner`, before they are told. After a reminder the invoice is matched
        again, in case a PO change was not signalled (Temporal away at the time)."""
        if kind == "reminder":
            self._po_changed = True
        backup = self.assignment.backup if self.assignment else None
        if kind != "escalation" or backup is None:
            return
        await self._update(
            f"escalated:{self._exceptions}",
            owner_id=backup.person_id,
            owner_name=backup.name,
            escalated_at=workflow.now(),
        )
        workflow.upsert_search_attributes([sa.EXCEPTION_OWNER.value_set(backup.person_id)])

    async def _update(self, step: str, **fields: Any) -> None:
        assert self.assignment is not None
        await workflow.execute_local_activity_method(
            MatchingActivities.update_exception,
            UpdateExceptionInput(exception_id=self.assignment.exception_id, step=step, **fields),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )

    async def _close(
        self, resolution: str, actor: str, decision: ResolveExceptionInput | None
    ) -> None:
        """The exception, if one is open, is settled: stored, and the flags cleared."""
        task = self.exception
        if task is None or self.assignment is None:
            return
        await self._update(
            f"resolved:{self._exceptions}",
            actor=actor,
            status="cancelled" if resolution == "cancel" else "resolved",
            resolution=resolution,
            resolved_by=actor,
            justification=decision.justification if decision else None,
            resolved_at=workflow.now(),
        )
        self._p.flag(None)
        workflow.upsert_search_attributes([sa.EXCEPTION_OWNER.value_unset()])
        self.exception = None
        self._closed += 1

    async def _revise(
        self, invoice: InvoiceSnapshot, decision: ResolveExceptionInput
    ) -> InvoiceSnapshot:
        p = self._p
        revised = await workflow.execute_local_activity_method(
            ApprovalActivities.revise,
            ReviseInvoiceInput(
                invoice_id=invoice.invoice_id,
                correction=CorrectInput(
                    items=decision.items,
                    lines=decision.lines,
                    changed_by=_actor(decision),
                    note=decision.justification,
                    po_number=decision.po_number,
                ),
                version=p.version + 1,
                round=0,
            ),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        if revised.invoice is None:  # the correction broke a contract rule: match as it was
            self.correction_refused = revised.rejection_reason
            await self._close("correction_refused", _actor(decision), decision)
            return invoice
        await self._close("correct", _actor(decision), decision)
        p.version += 1
        self.correction_refused = None
        return revised.invoice

    # --- the update and the signal -------------------------------------------------------

    async def rematch(self, invoice: InvoiceSnapshot) -> InvoiceSnapshot:
        """A corrected invoice (after its approvers sent it back): what its earlier version
        consumed goes back, and it is matched again if it is matched at all."""
        needed = await workflow.execute_local_activity_method(
            MatchingActivities.prepare_rematch,
            LoadMatchInput(invoice_id=invoice.invoice_id),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )
        return await self.run(invoice) if needed else invoice

    def po_changed(self) -> None:
        """A PO amendment or receipt arrived: match again if an exception waits."""
        if self.exception is not None:
            self._po_changed = True

    def validate_resolve(self, data: ResolveExceptionInput) -> None:
        task = self.exception
        if task is None or self._resolution is not None:
            raise ApplicationError("no exception is waiting", type="no_exception")
        if data.exception_id is not None and data.exception_id != task.task.task_id:
            raise ApplicationError(
                f"exception {data.exception_id} is already settled", type="task_closed"
            )
        if data.resolution != "wait" and not (data.justification or "").strip():
            if data.resolution in ("accept_variance", "cancel"):
                raise ApplicationError(
                    f"{data.resolution} needs a justification", type="justification_required"
                )
        if data.resolution == "accept_variance" and self.result is not None:
            blocking = [c for c in self.result.codes if c in MUST_FIX]
            if blocking:
                raise ApplicationError(
                    f"{blocking[0].value} cannot be accepted: correct the invoice's PO or"
                    " cancel it",
                    type="not_acceptable",
                )
        if data.resolution == "correct" and not (data.items or data.lines or data.po_number):
            raise ApplicationError(
                "a correction needs items, lines or a PO number", type="empty_correction"
            )
        task.validate(data.person_id, data.resolution, operator=data.operator)

    async def resolve(self, data: ResolveExceptionInput) -> ResolveExceptionResult:
        task = self.exception
        assert task is not None
        if data.resolution != "wait":
            self._resolution = data  # before the first await: a second one is refused
        closed = self._closed
        self._p.recording += 1  # the process's status writes wait for the decision's audit
        try:
            await task.decide(
                data.person_id, data.resolution, reason=data.justification, operator=data.operator
            )
        finally:
            self._p.recording -= 1
        if data.resolution == "wait":
            await self._update(
                f"waiting:{len(task.state.decisions)}",
                actor=_actor(data),
                waiting_on="a PO amendment or a delivery record",
            )
        else:
            # the answer reports the status after the resolution took effect
            await workflow.wait_condition(
                lambda: self._closed > closed or self._p.cancel is not None
            )
        return ResolveExceptionResult(resolution=data.resolution, status=self._p.status.value)

    # --- the view ------------------------------------------------------------------------

    def view(self) -> dict[str, Any] | None:
        if self.result is None:
            return None
        result = self.result
        view: dict[str, Any] = {
            "outcome": result.outcome.value,
            "po_id": result.po_id,
            "reasons": [r.model_dump(mode="json") for r in result.reasons],
            "variances": result.variances_json(),
            "correction_refused": self.correction_refused,
        }
        if self.exception is not None and self.assignment is not None:
            view["exception"] = {"id": self.assignment.exception_id, **self.exception.view()}
        return view


def _match(context: MatchContext) -> MatchResult:
    return match_invoice(
        context.invoice,
        context.po,
        tolerances=context.tolerances,
        po_of_another_customer=context.po_of_another_customer,
        recent=context.recent,
        duplicate_window_days=context.duplicate_window_days,
    )


def _actor(data: ResolveExceptionInput) -> str:
    """Who resolved, as every record of it says (the exception row's `resolved_by`, the
    match record, the audit trail): an operator acting from the Temporal UI as
    ``operator:zoe``, as the approval stage records an operator's decision."""
    return f"operator:{data.person_id}" if data.operator else data.person_id
