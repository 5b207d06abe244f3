"""The documents InvoiceFlow issues, stored once per document version: the PDF of an
invoice or credit note (a Factur-X PDF/A-3 with its CII XML inside for a customer who
asked for CII) and the UBL e-invoice. The bytes live in a content-addressed store (their
SHA-256 is the key and the checksum); a row says what they are.

Unique per (subject, kind, version): a retried delivery step, or two downloads at once,
keep the first one rendered, so a customer never gets two different files for one version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from schemas.tables import UTCDateTime


def _utc() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=False))


class DocumentRow(SQLModel, table=True):
    """One rendered document: what it is of, its kind and version, where its bytes are."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("subject_id", "kind", "version"),)

    id: str = Field(primary_key=True)  # doc_...
    subject_id: str  # the invoice's or the credit note's id
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    kind: str  # invoice_pdf | credit_note_pdf | invoice_ubl | credit_note_ubl
    version: int = 1
    media_type: str
    filename: str
    sha256: str
    size: int
    created_at: datetime = _utc()
