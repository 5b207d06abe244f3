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

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from schemas.tables import UTCDateTime


class AccountingDocumentRow(SQLModel, table=True):
    __tablename__ = "accounting_documents"
    # the exception list reads the refused ones (migration 0016)
    __table_args__ = (Index("ix_accounting_documents_status", "status"),)

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


class AccountingSyncFailure(SQLModel, table=True):
    """A post that failed past the alert delay and has not landed since: one row per post
    (its posting key), written by the resumed post on each failed attempt (`last_error`
    stays current) and deleted when the post lands or is refused. The invoice's sync status
    is `failing` while it has one, so several posts failing at once end the episode only
    when the last has landed. `gave_up_at`: when its first activity gave up (the resume
    was scheduled), an alert delay after it was first tried."""

    __tablename__ = "accounting_sync_failures"

    key: str = Field(primary_key=True)
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    kind: str  # invoice | payment | credit_note | write_off | void | credit_allocation
    gave_up_at: datetime = Field(default=None, sa_column=Column(UTCDateTime(), nullable=False))
    last_error: str
    attempts: int = 1
    updated_at: datetime = Field(default=None, sa_column=Column(UTCDateTime(), nullable=False))


class AccountingSyncEpisode(SQLModel, table=True):
    """The invoice's current failing episode as operations were told of it (the alert):
    since when (the failing post's first try, as `SyncFailingSince`) and its error. Written
    by the alert before it e-mails, overwritten by the next episode's alert, deleted when
    the invoice's last failing post lands."""

    __tablename__ = "accounting_sync_episodes"

    invoice_id: str = Field(primary_key=True, foreign_key="invoices.id")
    episode: int
    failing_since: datetime = Field(default=None, sa_column=Column(UTCDateTime(), nullable=False))
    detail: str
    alerted_at: datetime = Field(default=None, sa_column=Column(UTCDateTime(), nullable=False))
