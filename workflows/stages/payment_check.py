"""Finding payments whose webhook never reached us, for the collection stage.

While the invoice has an open payment link, it asks the provider what was paid for it:
every `options.PAYMENT_CHECK_EVERY` (every `OVERDUE_RECHECK` once late), and soon after
the customer says they paid (the signal ``payment_claimed``). What the check finds goes
through the stage's `received`, as the webhook's `PaymentReceived` with the same payment
id: applied once, and a webhook arriving later is a duplicate.

The stage's wait already has a timer (the due date, or the overdue re-check); the check
only shortens it (`bound`), so a waiting invoice holds one timer, and an invoice paid
before its first check costs no event at all. Changing a timer's duration does not break
replay; running a check where an older history did something else would, hence the
patch, asked only when a check is due (never on the happy path).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.payment_checks import PaymentCheckActivities
    from schemas.invoice import InvoiceSnapshot, PaymentReceived
    from schemas.payment_checks import CheckPaymentsInput, PaymentClaimed
    from workflows import options
    from workflows.process import InvoiceProcess


class PaymentChecker:
    def __init__(self, process: InvoiceProcess, received: Callable[[PaymentReceived], None]):
        self._p = process
        self._received = received
        self._since: datetime | None = None  # the wait's start, then the last check
        self.last_checked_at: datetime | None = None
        self._claims = 0  # the customer's "I have paid", counted
        self._answered = 0  # claims a check has answered

    def start(self) -> None:
        """Collection begins: the first scheduled check is one interval from now."""
        if self._since is None:
            self._since = workflow.now()

    def claimed(self, claim: PaymentClaimed) -> None:
        workflow.logger.info("invoice.payment_claimed", extra={"by": claim.claimed_by})
        self._claims += 1

    @property
    def claims(self) -> int:
        return self._claims

    def next_at(self) -> datetime | None:
        """When the next check is due; None without an open link (nothing to find)."""
        p = self._p
        if self._since is None or p.payment_url is None:
            return None
        if self._claims > self._answered:
            last = self.last_checked_at
            return self._since if last is None else last + options.PAYMENT_CHECK_MIN_GAP
        every = options.OVERDUE_RECHECK if p.late else options.PAYMENT_CHECK_EVERY
        return self._since + every

    def due(self) -> bool:
        at = self.next_at()
        return at is not None and workflow.now() >= at

    def bound(self, timeout: timedelta) -> timedelta:
        """The stage's wait, no longer than until the next check."""
        at = self.next_at()
        if at is None:
            return timeout
        return min(timeout, max(at - workflow.now(), timedelta(seconds=1)))

    async def run(self, invoice: InvoiceSnapshot) -> None:
        """Ask the provider (read-only), and hand what it took to the stage."""
        reason: Literal["schedule", "customer"] = (
            "customer" if self._claims > self._answered else "schedule"
        )
        self._answered = self._claims
        self._since = self.last_checked_at = workflow.now()
        try:
            result = await workflow.execute_local_activity_method(
                PaymentCheckActivities.check,
                CheckPaymentsInput(
                    invoice_id=invoice.invoice_id, currency=invoice.currency, reason=reason
                ),
                start_to_close_timeout=options.PAYMENT_CHECK_TIMEOUT,
                retry_policy=options.PAYMENT_CHECK_RETRY,
            )
        except (ActivityError, ApplicationError) as err:  # the provider is away: ask later
            # a local activity's failure comes as its ApplicationError itself, not wrapped
            cause = err.cause if isinstance(err, ActivityError) else err
            workflow.logger.warning("invoice.payment_check_failed", extra={"error": str(cause)})
            return
        for payment in result.payments:
            self._received(payment)
