"""Bodies of the exception list's accounting-sync kind (`GET /exceptions?kind=accounting_sync`):
an invoice whose accounting posts are failing past the alert delay, or one accounting
refused, with what an operator needs to act on it: since when, the last error, each
document concerned, and where to ask for a re-sync.

A separate item model, not more optional fields on the PO exception: a sync exception has
no owner, reasons or deadline, and a PO client reading today's queue must not meet one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Link(BaseModel):
    href: str = Field(examples=["/invoices/inv_123/resync"])
    method: Literal["POST"] = "POST"
    body: dict[str, str] = Field(
        default_factory=lambda: {"requested_by": "<who asks>"},
        description="what to send (with an Idempotency-Key)",
    )


class SyncDocumentOut(BaseModel):
    key: str = Field(description="the posting key: invoice:{id}, payment:{id}, …")
    kind: str = Field(
        description="invoice, payment, credit_note, write_off, void, credit_allocation"
    )
    status: Literal["failing", "refused"]
    since: datetime = Field(
        description="failing: when its first try gave up (the alert delay after it began);"
        " refused: when accounting refused it"
    )
    detail: str | None = Field(description="the provider's last error or its refusal")
    attempts: int | None = Field(default=None, description="failing: attempts since it gave up")


class SyncExceptionSummary(BaseModel):
    """One invoice accounting does not hold as it should."""

    kind: Literal["accounting_sync"] = "accounting_sync"
    invoice_id: str
    invoice_number: str | None
    customer_id: str
    customer_name: str | None
    sync_status: Literal["failing", "refused"] = Field(
        description="failing: a post has not landed for the alert delay (InvoiceFlow keeps"
        " retrying); refused: accounting refused a document, a person must look"
    )
    failing_since: datetime = Field(
        description="when the episode began (the failing post's first try, as the"
        " workflow's SyncFailingSince), or the refusal"
    )
    last_error: str | None
    documents: list[SyncDocumentOut]
    resync: Link = Field(description="post again what accounting lacks, now")


class SyncExceptionPage(BaseModel):
    items: list[SyncExceptionSummary]
    limit: int
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )
