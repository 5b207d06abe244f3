"""The reminder stage: the contract's dunning schedule, beside collection, until the
invoice is settled.

Each step falls due at its moment (``domain.reminders.schedule``); the stage then asks
whether it still applies — not while a payment plan runs (the plan has its instalments),
not for what is disputed (a reminder asks for the undisputed balance; none is sent while
all of it is disputed), not during a hold (the activity answers with its end), not at
night (the customer's quiet hours) — and sends it once. Every wait is a durable timer that
a payment, a remedy, a dispute or a hold change cuts short, so the schedule is looked at
again after each: a partial payment changes what the next reminder asks for, never which
step is next. Steps that fell due while nothing could send them are recorded as
superseded by the latest, which is sent once.

A charging step's late charge is its own invoice (a child invoice process: numbered,
delivered, collected and posted to accounting like any other), so an issued invoice never
changes. The step marked ``collections`` hands the invoice to collections: COLLECTIONS,
and ExceptionReason ``collections``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.reminders import ReminderActivities
    from domain.delivery_window import next_window_opening
    from domain.reminders.schedule import Timed, before_sending, next_step, timeline
    from schemas import search_attributes as sa
    from schemas.ids import invoice_workflow_id
    from schemas.invoice import InvoiceSnapshot, InvoiceStatus, StartInvoiceInput
    from schemas.reminder_flow import SendReminderInput, SendReminderResult, SupersededStep
    from schemas.reminders import ReminderView
    from workflows import options
    from workflows.process import InvoiceProcess

SETTLED = (InvoiceStatus.PAID, InvoiceStatus.CLOSED, InvoiceStatus.VOID)


class ReminderStage:
    def __init__(self, process: InvoiceProcess) -> None:
        self._p = process
        self.views: list[ReminderView] = []
        self.next_due: datetime | None = None
        self.waiting: str | None = None  # why the next step waits (hold, quiet hours, ...)
        self._handled: set[str] = set()
        self._nudges = 0
        self._task: asyncio.Future[Any] | None = None

    def start(self, invoice: InvoiceSnapshot) -> None:
        if invoice.reminders is not None and invoice.reminders.steps:
            self._task = asyncio.ensure_future(self._run(invoice))

    def nudge(self) -> None:
        """A hold was placed or released (signal `reminders_changed`): look again now."""
        self._nudges += 1

    def view(self) -> list[ReminderView]:
        return list(self.views)

    # --- the schedule --------------------------------------------------------------------

    async def _run(self, invoice: InvoiceSnapshot) -> None:
        assert invoice.reminders is not None
        steps = timeline(
            invoice.reminders,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            tz=invoice.delivery.timezone,
        )
        for early in before_sending(steps, workflow.now()):
            self._note(early, "skipped", "due before the invoice was sent")
        while not self._settled():
            now = workflow.now()
            plan = next_step(steps, self._handled, now)
            if plan.current is None:
                self._waits(None, None)
                return
            current = plan.current
            if current.at > now:
                self._waits(current.at, None, current.step.key)
                await self._sleep(current.at - now)
                continue
            if self._p.plan is not None or self._p.undisputed_balance() <= 0:
                self._waits(
                    None,
                    "a payment plan runs" if self._p.plan else "all of it disputed",
                    current.step.key,
                )
                await self._sleep(None)
                continue
            opens = self._window_opening(invoice, now)
            if opens > now:
                self._waits(opens, "quiet hours", current.step.key)
                await self._sleep(opens - now)
                continue
            later = [t.at for t in steps if t.at > current.at]
            result = await self._send(invoice, current, plan.superseded, min(later, default=None))
            if result is None:
                return  # the activity failed for good: logged, the schedule stops
            if result.outcome == "held":
                assert result.held_until is not None
                self._waits(result.held_until, f"on hold: {result.hold_reason}", current.step.key)
                await self._sleep(max(result.held_until - workflow.now(), timedelta(seconds=1)))
                continue
            for passed in plan.superseded:
                self._note(passed, "superseded", f"superseded by {current.step.key}")
            if result.outcome == "superseded":
                self._note(current, "superseded", "the next step fell due before it could go")
                continue
            self._record(current, result)
            if result.charge_invoice_id and result.charge_lines:
                await self._charge(invoice, current, result)
            if current.step.collections and result.outcome == "sent":
                await self._to_collections()

    def _settled(self) -> bool:
        p = self._p
        return p.status in SETTLED or p.replaced_by is not None or p.balance() <= 0

    async def _sleep(self, span: timedelta | None) -> None:
        """Until `span` has passed, or until something moves the balance, a dispute or a hold."""
        p = self._p
        seen = (p.paid_minor, p.adjustments, p.disputed_minor, p.plan, self._nudges)

        def moved() -> bool:
            now = (p.paid_minor, p.adjustments, p.disputed_minor, p.plan, self._nudges)
            return now != seen or self._settled()

        try:
            await workflow.wait_condition(moved, timeout=span)
        except TimeoutError:
            pass

    def _window_opening(self, invoice: InvoiceSnapshot, now: datetime) -> datetime:
        """Now, or when the customer's quiet hours end (their plan's zone and window)."""
        plan = invoice.delivery
        if plan.quiet_hours is None or not plan.quiet_hours.enabled:
            return now
        return next_window_opening(now, plan.timezone, plan.quiet_hours)

    async def _send(
        self,
        invoice: InvoiceSnapshot,
        current: Timed,
        superseded: list[Timed],
        stale_after: datetime | None,
    ) -> SendReminderResult | None:
        p = self._p
        try:
            result: SendReminderResult = await workflow.execute_activity_method(
                ReminderActivities.send_reminder,
                SendReminderInput(
                    invoice=invoice,
                    step=current.step,
                    due_at=current.at,
                    balance_minor=p.undisputed_balance(),
                    disputed_minor=p.disputed_minor,
                    payment_url=p.payment_url,
                    channel_order=list(invoice.delivery.channel_order),
                    superseded=[
                        SupersededStep(key=t.step.key, tone=t.step.tone, due_at=t.at)
                        for t in superseded
                    ],
                    stale_after=stale_after,
                ),
                start_to_close_timeout=options.DELIVERY_TIMEOUT,
                heartbeat_timeout=options.PROVIDER_HEARTBEAT,
                retry_policy=options.DELIVERY_RETRY,
            )
        except ActivityError as err:
            workflow.logger.error("invoice.reminder_failed", extra={"error": str(err.cause)})
            p.flag("reminder_failed")
            return None
        return result

    async def _charge(
        self, invoice: InvoiceSnapshot, current: Timed, result: SendReminderResult
    ) -> None:
        """The step's late charge as an invoice of its own, started once (its id is the
        step's), under the same contract; it has reminders but no charge of its own."""
        assert result.charge_invoice_id is not None
        charge_id = result.charge_invoice_id
        try:
            await self._start_charge(invoice, current, result, charge_id)
        except WorkflowAlreadyStartedError:  # started before (an operator reset this run)
            workflow.logger.info("invoice.late_charge_exists", extra={"invoice": charge_id})

    async def _start_charge(
        self,
        invoice: InvoiceSnapshot,
        current: Timed,
        result: SendReminderResult,
        charge_id: str,
    ) -> None:
        request = self._p.request
        await workflow.start_child_workflow(
            "Invoice",
            StartInvoiceInput(
                invoice_id=charge_id,
                customer_id=request.customer_id,
                customer_name=request.customer_name,
                contract_id=request.contract_id,
                currency=invoice.currency,
                lines=result.charge_lines,
                requested_by=f"reminders:{invoice.number}",
                created_by="reminders",
                late_charge_for=invoice.invoice_id,
            ),
            id=invoice_workflow_id(charge_id),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            search_attributes=sa.at_start(
                invoice_id=charge_id,
                customer_id=request.customer_id,
                amount_due_minor=result.charge_minor,
                currency=invoice.currency,
            ),
            static_summary=f"Late charge on {invoice.number} ({current.step.key})",
        )

    async def _to_collections(self) -> None:
        p = self._p
        p.in_collections = True
        p.flag("collections")
        if p.late:
            await p.store_status(InvoiceStatus.COLLECTIONS, "collections")
            p.set_status(InvoiceStatus.COLLECTIONS)

    # --- the view ------------------------------------------------------------------------

    def _waits(self, at: datetime | None, why: str | None, key: str | None = None) -> None:
        """What the next step waits for, in the view and in the current details."""
        if (at, why) == (self.next_due, self.waiting):
            return
        self.next_due, self.waiting = at, why
        sent = sum(view.outcome == "sent" for view in self.views)
        if at is None and why is None:
            note = f"Reminders: {sent} sent, none left" if self.views else None
        else:
            when = f" at {at:%Y-%m-%d %H:%M} UTC" if at else ""
            wait = f" ({why})" if why else ""
            note = f"Reminders: {sent} sent; next {key or 'step'}{when}{wait}"
        self._p.reminder_note = note
        if self._p.waiting_for is not None:
            self._p.update_details()

    def _note(self, timed: Timed, outcome: str, note: str) -> None:
        self._handled.add(timed.step.key)
        self.views.append(
            ReminderView(
                key=timed.step.key,
                due_at=timed.at,
                outcome=outcome,  # type: ignore[arg-type]
                at=workflow.now(),
                note=note,
            )
        )

    def _record(self, timed: Timed, result: SendReminderResult) -> None:
        self._handled.add(timed.step.key)
        self.views.append(
            ReminderView(
                key=timed.step.key,
                due_at=timed.at,
                outcome="sent" if result.outcome == "sent" else "failed",
                at=workflow.now(),
                channel=result.channel,
                amount_minor=self._p.undisputed_balance(),
                charge_minor=result.charge_minor,
                charge_invoice_id=result.charge_invoice_id,
                note=result.failed,
            )
        )
