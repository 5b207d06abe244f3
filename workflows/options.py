"""Timeouts and retry policies for the invoice workflow's activities, in one place.

Database steps run as local activities: they are short, and a local activity costs one
history event instead of six. Calls to providers run as ordinary activities with
unlimited retries under a capped backoff, because a provider (accounting, above all) may
be down for hours and the invoice must simply wait for it.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

STORE_TIMEOUT = timedelta(seconds=30)
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=10),
    non_retryable_error_types=["NotFound"],
)

# An audit write for a decision already made (and kept in history): a few tries, then the
# workflow logs the failure instead of holding the approver's click forever.
AUDIT_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=5,
    non_retryable_error_types=["UnknownApprovalRequest"],
)

# Heartbeat timeouts: how soon Temporal retries an attempt whose worker died (kill -9, a
# lost machine) instead of waiting out its whole start-to-close timeout. The activities
# heartbeat every second from a background task (activities.heartbeat) whatever the call
# they wait on, so this bounds a dead or stalled worker, not a slow provider; the
# start-to-close timeouts bound one attempt's calls (provider and SMTP timeouts are 10 s).
# Measured against the sandbox (10 invoices, started -> completed in the history): a
# delivery (payment link + e-mail) 17-357 ms, median 31; an accounting post 9-73 ms. A
# killed worker's attempt is retried 5 s after its last beat plus the retry interval
# (2 s delivery, 5 s accounting): in flight at a kill -9, closed ~10 s after a restart.
PROVIDER_HEARTBEAT = timedelta(seconds=5)

DELIVERY_TIMEOUT = timedelta(seconds=60)
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["PermanentDeliveryFailure"],
)

# A resend asked for by a person, who waits for the answer: a few quick tries, then the
# update fails with the reason instead of holding the request past the API's update wait.
RESEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_attempts=3,
    non_retryable_error_types=["PermanentDeliveryFailure"],
)

# A receipt is a local activity: one attempt is one SMTP message (the client's own
# timeout is 10 s); a longer outage is retried under DELIVERY_RETRY with timers.
RECEIPT_TIMEOUT = timedelta(seconds=20)

ACCOUNTING_TIMEOUT = timedelta(seconds=30)
ACCOUNTING_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["AccountingRejected"],
)

# A refund at the payment provider: retried through an outage like an accounting post; a
# refund the provider refuses (more than the payments left to refund) is flagged instead.
REFUND_TIMEOUT = timedelta(seconds=60)
REFUND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["RefundRejected", "NotRefundable"],
)

# After the due date an unpaid invoice waits in bounded steps; reminders (a later issue)
# hook into each step. A bounded wait also keeps a forgotten invoice visible as a timer.
OVERDUE_RECHECK = timedelta(days=7)

# A billing run's page of contracts to bill: one indexed query, retried like the store steps.
BILLING_LIST_TIMEOUT = timedelta(minutes=2)

# Lost webhooks: while an invoice has an open payment link, it asks the provider what was
# paid every day (with each weekly re-check once overdue), and at once when the customer
# says they paid, but never twice within a minute. A read-only local activity: one history
# event per check, none on an invoice paid before its first check.
PAYMENT_CHECK_EVERY = timedelta(days=1)
PAYMENT_CHECK_MIN_GAP = timedelta(minutes=1)
PAYMENT_CHECK_TIMEOUT = timedelta(seconds=30)
PAYMENT_CHECK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_attempts=3
)
