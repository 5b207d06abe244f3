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

DELIVERY_TIMEOUT = timedelta(seconds=60)
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["PermanentDeliveryFailure"],
)

ACCOUNTING_TIMEOUT = timedelta(seconds=30)
ACCOUNTING_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["AccountingRejected"],
)

# After the due date an unpaid invoice waits in bounded steps; reminders (a later issue)
# hook into each step. A bounded wait also keeps a forgotten invoice visible as a timer.
OVERDUE_RECHECK = timedelta(days=7)

# A billing run's page of contracts to bill: one indexed query, retried like the store steps.
BILLING_LIST_TIMEOUT = timedelta(minutes=2)
