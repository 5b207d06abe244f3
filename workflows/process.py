"""What every stage of the invoice process shares: the request, the invoice once generated,
its status (stored, live and in the search attributes) and what it waits for.

A stage reads and moves the process through this object; the workflow composes the `state`
query and the Temporal UI's current details from it and from the stages' own views.
Deterministic: no I/O but the store's status step, times from ``workflow.now()``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from activities.store import InvoiceStoreActivities
    from domain.disputes.plan import next_unpaid, plan_position
    from domain.money import format_amount
    from schemas import search_attributes as sa
    from schemas.dispute_flow import PlanInForce
    from schemas.invoice import (
        CancelInvoiceInput,
        InvoiceSnapshot,
        InvoiceStatus,
        SetStatusInput,
        StartInvoiceInput,
    )
    from workflows import options


def overdue_at(invoice: InvoiceSnapshot) -> datetime:
    """An invoice is overdue from 00:00 UTC on the day after its due date."""
    return datetime.combine(invoice.due_date + timedelta(days=1), time.min, tzinfo=UTC)


class Cancelled(Exception):
    """Raised inside a stage once a cancel was accepted; the workflow ends the process."""


class InvoiceProcess:
    def __init__(self, request: StartInvoiceInput) -> None:
        self.request = request
        self.status = InvoiceStatus.PENDING
        self.invoice: InvoiceSnapshot | None = None
        self.version = 1
        self.paid_minor = 0
        # taken off the balance by disputes' remedies; refunded: paid back at the provider
        self.credited_minor = 0
        self.written_off_minor = 0
        self.refunded_minor = 0
        # an overpayment kept as credit on the customer's account (instead of a refund)
        self.credit_carried_minor = 0
        # the amount of the invoice's open disputes: not due while they run
        self.disputed_minor = 0
        self._adjustments = 0  # moves of the balance other than payments (a remedy)
        self.plan: PlanInForce | None = None  # a payment plan agreed in a dispute
        self.on_payment: list[Callable[[], None]] = []  # told after each payment applied
        self.replaced_by: str | None = None  # VOID: the adjusted invoice that replaces it
        self.waiting_for: str | None = "invoice generation"
        self.payment_url: str | None = None
        self.cancel: CancelInvoiceInput | None = None
        # decisions whose writes are running: status writes wait for them to land first
        self.recording = 0
        # lines the current details keep showing under the wait (how it was delivered)
        self.notes: list[str] = []
        # the last reminder went out unpaid: late is COLLECTIONS from then on
        self.in_collections = False
        self.reminder_note: str | None = None  # the reminders' line in the current details

    @property
    def late(self) -> bool:
        """OVERDUE, or past that: handed to collections."""
        return self.status in (InvoiceStatus.OVERDUE, InvoiceStatus.COLLECTIONS)

    # --- status ------------------------------------------------------------------------

    def balance(self) -> int:
        """What the customer still owes (negative: paid beyond it, not refunded or kept
        on account yet); credit taken off it from the customer's account counts as paid."""
        if self.invoice is None or self.status == InvoiceStatus.CANCELLED or self.replaced_by:
            return 0
        taken = self.credited_minor + self.written_off_minor + self.invoice.credit_applied_minor
        returned = self.refunded_minor + self.credit_carried_minor
        return self.invoice.total_minor - taken - self.paid_minor + returned

    def undisputed_balance(self) -> int:
        """What can be due and overdue now: the balance less what open disputes contest."""
        return max(0, self.balance() - self.disputed_minor)

    def adjusted(self) -> None:
        """A remedy moved the balance: a stage waiting on the balance looks again."""
        self._adjustments += 1

    @property
    def adjustments(self) -> int:
        return self._adjustments

    def plan_positions(self) -> list[Any]:
        """The payment plan's instalments as paid so far (none without a plan)."""
        if self.plan is None:
            return []
        paid = self.paid_minor - self.plan.base_paid_minor
        return plan_position(self.plan.instalments, paid, workflow.now().date())

    def overdue_from(self) -> datetime:
        """When the invoice is overdue if still unpaid: the day after its due date, or
        under a payment plan the day after the first instalment not paid in full."""
        assert self.invoice is not None
        upcoming = next_unpaid(self.plan_positions())
        if upcoming is not None:
            return datetime.combine(upcoming.due_date + timedelta(days=1), time.min, tzinfo=UTC)
        return overdue_at(self.invoice)

    def collecting_status(self) -> InvoiceStatus:
        """The status of an invoice being collected, from its payments and due date."""
        invoice = self.invoice
        if invoice is not None and workflow.now() >= self.overdue_from() and self.balance() > 0:
            return InvoiceStatus.COLLECTIONS if self.in_collections else InvoiceStatus.OVERDUE
        return InvoiceStatus.PARTIALLY_PAID if self.paid_minor else InvoiceStatus.ISSUED

    def set_status(
        self,
        status: InvoiceStatus,
        number: str | None = None,
        *also: SearchAttributeUpdate[Any],
    ) -> None:
        """The live status and the search attributes operations filter on; `also`: a
        stage's own attributes that change at the same moment, in the same upsert (each
        upsert is a history event)."""
        self.status = status
        updates: list[SearchAttributeUpdate[Any]] = [sa.INVOICE_STATUS.value_set(status.value)]
        updates += also
        if self.invoice is not None:
            updates.append(sa.AMOUNT_DUE.value_set(self.balance()))
        if number is not None and self.invoice is not None:
            updates += [
                sa.INVOICE_NUMBER.value_set(number),
                sa.CURRENCY.value_set(self.invoice.currency),
                sa.DUE_DATE.value_set(
                    datetime.combine(self.invoice.due_date, time.min, tzinfo=UTC)
                ),
            ]
        workflow.upsert_search_attributes(updates)

    async def store_status(
        self, status: InvoiceStatus, step: str, *, actor: str = "workflow", note: str | None = None
    ) -> None:
        """The stored status, once per step (audited); a decision's writes go first."""
        if self.recording:
            await workflow.wait_condition(lambda: not self.recording)
        await workflow.execute_local_activity_method(
            InvoiceStoreActivities.set_status,
            SetStatusInput(
                invoice_id=self.request.invoice_id,
                status=status,
                step_key=step,
                actor=actor,
                note=note,
            ),
            start_to_close_timeout=options.STORE_TIMEOUT,
            retry_policy=options.STORE_RETRY,
        )

    def flag(self, reason: str | None) -> None:
        """`ExceptionReason`: what needs a person (None clears it)."""
        if reason is None:
            workflow.upsert_search_attributes([sa.EXCEPTION_REASON.value_unset()])
        else:
            workflow.upsert_search_attributes([sa.EXCEPTION_REASON.value_set(reason)])

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None

    def raise_if_cancelled(self) -> None:
        if self.cancel is not None:
            raise Cancelled

    # --- the Temporal UI -----------------------------------------------------------------

    def waits_for(self, what: str | None) -> None:
        self.waiting_for = what
        self.update_details()

    def update_details(self) -> None:
        invoice = self.invoice
        if invoice is None:
            workflow.set_current_details(f"Waiting for: {self.waiting_for}")
            return
        head = (
            f"**{invoice.number}** · {invoice.customer_name} · "
            f"{format_amount(invoice.total_minor, invoice.currency)} · {self.status.value}"
        )
        due = f"due {invoice.due_date.isoformat()}"
        balance = f"balance {format_amount(self.balance(), invoice.currency)}"
        if self.waiting_for == "payment":
            overdue = self.late
            until = (
                f"overdue since {self.overdue_from().date().isoformat()}; next check "
                if overdue
                else "until "
            )
            when = workflow.now() + options.OVERDUE_RECHECK if overdue else self.overdue_from()
            waits = (
                f"Waiting for payment from {invoice.customer_name} ({balance}, {due}), "
                f"{until}{when:%Y-%m-%d %H:%M} UTC"
            )
        elif self.waiting_for:
            waits = f"Waiting for: {self.waiting_for} ({balance}, {due})"
        else:
            waits = f"Closed ({balance})"
        shown = [*self.notes, self.reminder_note] if self.reminder_note else self.notes
        notes = "".join(f"\n\n{note}" for note in shown)
        workflow.set_current_details(f"{head}\n\n{waits}{notes}")
