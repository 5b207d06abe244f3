"""The refunds made at the payment provider, one row per refund.

`id` is the provider's refund id; `key` is the idempotency key it was made under,
``{credit_note_id}:refund:{payment_id}``, unique, so a retried refund activity records each
refund once. What a payment has left to refund is its amount less its rows here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from schemas.tables import UTCDateTime


def _utc() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=False))


class RefundRow(SQLModel, table=True):
    """Money given back on one payment of an invoice, for one credit note."""

    __tablename__ = "refunds"

    id: str = Field(primary_key=True)  # re_... (the provider's)
    key: str = Field(unique=True)  # {credit_note_id}:refund:{payment_id}
    invoice_id: str = Field(foreign_key="invoices.id", index=True)
    payment_id: str = Field(index=True)  # the provider's payment id (payments.id)
    credit_note_id: str = Field(index=True)
    amount_minor: int = Field(sa_type=BigInteger)
    currency: str
    created_at: datetime = _utc()
