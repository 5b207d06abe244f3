"""What accounting should hold for each invoice: one row per document we posted or tried
to post (the invoice, its payments, credit notes, write-offs, voids, credit allocations).

A row keeps the request as it went out (path, Idempotency-Key, JSON body), so a re-sync
(`POST /invoices/{id}/resync`), after the invoice's process has ended too, can look each
document up at the provider and create the ones it lacks with exactly the body first
sent, without knowing each document's shape. `key` is the posting key
(``invoice:{id}``, ``payment:{id}``, …, as in `accounting_postings`). `status` is
``posted`` (with the ledger's id) or ``refused`` (with the provider's reason).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from schemas.tables import UTCDateTime


class AccountingDocumentRow(SQLModel, table=True):
    __tablename__ = "accounting_documents"

    key: str = Field(primary_key=True)
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    kind: str  # invoice | payment | credit_note | write_off | void | credit_allocation
    path: str  # the provider's collection, e.g. /accounting/v1/invoices
    idempotency_key: str
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str  # posted | refused
    external_id: str | None = None
    detail: str | None = None
    updated_at: datetime = Field(default=None, sa_column=Column(UTCDateTime(), nullable=False))
