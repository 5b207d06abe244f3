"""Task-queue names and workflow ids, made and parsed in one place.

Workflow ids are human-readable (``invoice-3f9c2a1b7d4e``) so operations can type them
into the Temporal UI, and deterministic from the business id so a repeated start is
deduplicated by Temporal itself.
"""

from __future__ import annotations

import uuid

DEFAULT_TASK_QUEUE = "invoiceflow"
INVOICE_WORKFLOW_PREFIX = "invoice-"
BILLING_RUN_WORKFLOW_PREFIX = "billing-run-"
# The Temporal Schedule that starts a billing run each month (for the previous month).
BILLING_SCHEDULE_ID = "billing-run-monthly"

# A fixed namespace so an (API key, Idempotency-Key) pair always maps to the same id.
_IDEMPOTENT_ID_NAMESPACE = uuid.UUID("6f1d2c5e-8d0b-4f39-9a51-2b8e7c0d4a11")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def idempotent_id(prefix: str, *parts: str) -> str:
    """An id that is the same every time for the same parts (used for Idempotency-Key)."""
    return f"{prefix}_{uuid.uuid5(_IDEMPOTENT_ID_NAMESPACE, '|'.join(parts)).hex[:16]}"


def invoice_workflow_id(invoice_id: str) -> str:
    return f"{INVOICE_WORKFLOW_PREFIX}{invoice_id}"


def parse_invoice_workflow_id(workflow_id: str) -> str:
    if not workflow_id.startswith(INVOICE_WORKFLOW_PREFIX):
        raise ValueError(f"not an invoice workflow id: {workflow_id!r}")
    return workflow_id.removeprefix(INVOICE_WORKFLOW_PREFIX)


def billing_run_workflow_id(period: str) -> str:
    return f"{BILLING_RUN_WORKFLOW_PREFIX}{period}"


def parse_billing_run_workflow_id(workflow_id: str) -> str:
    if not workflow_id.startswith(BILLING_RUN_WORKFLOW_PREFIX):
        raise ValueError(f"not a billing run workflow id: {workflow_id!r}")
    return workflow_id.removeprefix(BILLING_RUN_WORKFLOW_PREFIX)


def billing_invoice_id(contract_id: str, period: str) -> str:
    """The one invoice a billing run makes for a contract and period: the same id on every
    run, so a repeated or doubled run finds the invoice (and its workflow) already there."""
    return idempotent_id("inv", "billing", contract_id, period)
