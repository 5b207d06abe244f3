"""Billing runs and billable entries: the workflow's input, result and query, its activity's
input and result, and the HTTP bodies.

A billing run carries its cursor and running totals in its own input, so that it can
continue as new after every page and still report the whole run.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BILLING_RUN_WORKFLOW = "BillingRun"  # the workflow type name, for clients that do not import it
DEFAULT_PAGE_SIZE = 200
DEFAULT_MAX_IN_FLIGHT = 20
MAX_PAGE_SIZE = 1000

# --- the workflow -----------------------------------------------------------------------


class BillingRunTotals(BaseModel):
    """What a run has done so far, over all its continued-as-new runs."""

    contracts_started: int = 0  # invoice workflows this run started
    already_existing: int = 0  # invoice workflows found already there (an earlier run made them)
    pages: int = 0
    continued: int = 0  # how often the run continued as new
    # contracts seen so far plus those still to bill after the cursor, as of the last page
    contracts_total: int | None = None


class BillingRunInput(BaseModel):
    """Workflow ``BillingRun``, id ``billing-run-{period}``.

    Without a period (the monthly schedule), the run bills the calendar month before
    ``workflow.now()``, as the workflow ``billing-run-{that month}``.
    """

    period: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE  # contracts per page; the run continues as new after each
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT  # child starts outstanding at once
    requested_by: str = "billing-run"
    # carried across continue-as-new; a new run leaves them unset
    cursor: str | None = None  # the last contract id of the previous page
    totals: BillingRunTotals = Field(default_factory=BillingRunTotals)


class BillingRunProgress(BaseModel):
    """Query ``progress``: the live view of a run."""

    period: str | None
    contracts_started: int
    already_existing: int
    pages: int
    continued: int
    contracts_total: int | None = None
    in_flight: int = 0
    cursor: str | None = None
    done: bool = False


class BillingRunResult(BaseModel):
    period: str
    contracts_started: int
    already_existing: int
    pages: int
    continued: int
    # set when a scheduled run found the period's run already started by someone else
    delegated_to: str | None = None


# --- the activity -----------------------------------------------------------------------


class ListBillableContractsInput(BaseModel):
    period: str
    after_contract_id: str | None = None
    limit: int


class BillableContract(BaseModel):
    contract_id: str
    customer_id: str
    customer_name: str


class ListBillableContractsResult(BaseModel):
    contracts: list[BillableContract]
    remaining: int  # contracts to bill after the cursor, this page included


# --- the HTTP API -----------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BillableEntryIn(_Strict):
    kind: Literal["time", "usage", "milestone"] = "time"
    rate_code: str = Field(min_length=1, max_length=100)
    quantity: Decimal
    description: str | None = Field(default=None, max_length=500)
    service_date: date | None = None


class BillableEntriesCreate(_Strict):
    period: str = Field(description="the calendar month the work belongs to, YYYY-MM")
    entries: list[BillableEntryIn] = Field(min_length=1, max_length=1000)


class BillableEntryOut(BaseModel):
    id: str
    contract_id: str
    period: str
    kind: str
    rate_code: str
    quantity: str
    description: str | None
    service_date: date | None
    created_at: datetime
    invoice_id: str | None = Field(description="the invoice that billed the entry; null until then")


class BillableEntryList(BaseModel):
    contract_id: str
    period: str | None
    entries: list[BillableEntryOut]


class BillingRunCreate(_Strict):
    period: str = Field(description="the calendar month to bill, YYYY-MM")
    rerun: bool = Field(
        default=False,
        description=(
            "start a completed period's run again: it bills entries still unbilled in the"
            " period (added after the run had passed their contract) and skips every"
            " contract already invoiced for it"
        ),
    )


class BillingRunInvoices(BaseModel):
    """The period's invoices as stored: generated (numbered) and rejected; and how many
    contracts have unbilled entries in the period but no invoice for it yet. After a
    completed run those are contracts whose entries came after the run had passed them,
    which a rerun bills. Also counted, though a rerun skips them (their workflow id is
    taken): for a moment, those whose invoice the run has just started; and any whose
    invoice workflow was terminated before it stored the invoice."""

    generated: int
    rejected: int
    contracts_not_invoiced: int = 0


class BillingRunOut(BaseModel):
    period: str
    workflow_id: str
    status: str | None = Field(description="the Temporal run status; null if no run is known")
    progress: BillingRunProgress | None
    invoices: BillingRunInvoices
    links: dict[str, str]
