"""SQLModel tables of purchase orders: the PO and its lines, its revisions, the delivery
records against it, and what issued invoices consumed of it.

Quantities are stored as integer ten-thousandths (``quantity_e4``: 2.5 hours is 25000), not
as text or floating point, so that the guard which keeps two invoices from consuming the
same last units is one exact integer comparison inside a conditional UPDATE on SQLite and
PostgreSQL alike (``invoiced_e4 + :q <= :max``). The API accepts at most four decimal
places, so every accepted quantity converts exactly.

A PO line carries running totals (``invoiced_e4``, ``received_e4``) beside the rows that
make them up (``po_consumptions``, ``delivery_receipts``): the totals are what the race-safe
UPDATEs compare against, the rows are the record of who took what.
"""

from __future__ import annotations

import decimal
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKeyConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.money import DECIMAL_CONTEXT
from schemas.tables import UTCDateTime

QUANTITY_SCALE = 10_000  # quantities are stored in ten-thousandths
QUANTITY_PLACES = 4


def _utc_column(nullable: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


def to_e4(quantity: Decimal) -> int:
    """A quantity in ten-thousandths, rounded up if it has more than four places.

    Up, not to nearest: consuming a hair more of a PO line than billed errs on the side of
    the customer's budget, never lets an invoice slip past the guard.
    """
    scaled = quantity.scaleb(QUANTITY_PLACES, context=DECIMAL_CONTEXT)
    return int(scaled.to_integral_value(rounding=decimal.ROUND_CEILING, context=DECIMAL_CONTEXT))


def from_e4(quantity_e4: int) -> Decimal:
    """The stored ten-thousandths as a Decimal without trailing zeros (25000 -> 2.5)."""
    return DECIMAL_CONTEXT.divide(Decimal(quantity_e4), Decimal(QUANTITY_SCALE))


class PurchaseOrderRow(SQLModel, table=True):
    """A customer's purchase order at its latest revision (earlier ones are in
    ``purchase_order_revisions``). ``tolerances`` override the customer's for this PO."""

    __tablename__ = "purchase_orders"
    __table_args__ = (UniqueConstraint("customer_id", "number"),)

    id: str = Field(primary_key=True)  # po_...
    customer_id: str = Field(foreign_key="customers.id")
    number: str = Field(index=True)  # the customer's own PO number, unique per customer
    currency: str
    status: str = Field(index=True)  # domain.matching.model.POStatus
    match_mode: str  # domain.matching.model.MatchMode
    valid_from: date | None = None
    valid_to: date | None = None  # inclusive
    revision: int = 1
    tolerances: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_by: str
    created_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()


class PurchaseOrderLineRow(SQLModel, table=True):
    __tablename__ = "purchase_order_lines"

    po_id: str = Field(foreign_key="purchase_orders.id", primary_key=True)
    line_number: int = Field(primary_key=True)
    item_code: str  # SKU or service code; an invoice line's rate code names it
    description: str = ""
    unit: str
    unit_price_minor: int = Field(sa_type=BigInteger)
    quantity_e4: int = Field(sa_type=BigInteger)  # ordered
    allow_over_delivery: bool = False
    tolerances: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    invoiced_e4: int = Field(
        default=0, sa_type=BigInteger
    )  # consumed by issued invoices, not yet released
    received_e4: int = Field(default=0, sa_type=BigInteger)  # delivered, by the delivery records


class PurchaseOrderRevisionRow(SQLModel, table=True):
    """Append-only: revision 1 is the PO as created, each amendment adds the next."""

    __tablename__ = "purchase_order_revisions"

    po_id: str = Field(foreign_key="purchase_orders.id", primary_key=True)
    revision: int = Field(primary_key=True)
    changes: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    actor: str
    at: datetime = _utc_column()


class DeliveryReceiptRow(SQLModel, table=True):
    """A goods receipt, delivery confirmation or approved timesheet for one PO line. One
    reference (a delivery note) may cover several lines; a reference and line recorded
    again are the same record, so a repeated receipt is counted once."""

    __tablename__ = "delivery_receipts"
    __table_args__ = (
        UniqueConstraint("po_id", "reference", "line_number"),
        ForeignKeyConstraint(
            ["po_id", "line_number"],
            ["purchase_order_lines.po_id", "purchase_order_lines.line_number"],
        ),
    )

    id: str = Field(primary_key=True)  # rcp_...
    po_id: str
    line_number: int
    quantity_e4: int = Field(sa_type=BigInteger)
    delivered_on: date
    reference: str
    kind: str  # goods_receipt | delivery_confirmation | timesheet
    actor: str
    at: datetime = _utc_column()


class POConsumptionRow(SQLModel, table=True):
    """What an issued invoice took from a PO line; ``released_at`` is set when the invoice
    is voided or cancelled and the quantity goes back to the line."""

    __tablename__ = "po_consumptions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["po_id", "line_number"],
            ["purchase_order_lines.po_id", "purchase_order_lines.line_number"],
        ),
        Index("ix_po_consumptions_po_id", "po_id"),
    )

    invoice_id: str = Field(foreign_key="invoices.id", primary_key=True)
    po_id: str = Field(primary_key=True)
    line_number: int = Field(primary_key=True)
    quantity_e4: int = Field(sa_type=BigInteger)
    amount_minor: int = Field(sa_type=BigInteger)
    consumed_at: datetime = _utc_column()
    released_at: datetime | None = _utc_column(nullable=True)
