"""delivery channels: customers' time zone, quiet hours and channel order, each invoice's
delivery plan, every delivery attempt

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 17:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # customers and invoices from before: no row, so the settings' defaults; an invoice
    # without a plan is sent at any hour, e-mail then SMS, as it was
    op.create_table(
        "customer_delivery",
        sa.Column("customer_id", sa.String(), sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("timezone", sa.String(), nullable=True),
        sa.Column("quiet_hours", sa.JSON(), nullable=True),
        sa.Column("channel_order", sa.JSON(), nullable=True),
        _at("updated_at"),
    )
    op.create_table(
        "invoice_delivery",
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), primary_key=True),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("quiet_hours", sa.JSON(), nullable=True),
        sa.Column("channel_order", sa.JSON(), nullable=False),
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("activity_attempt", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        _at("at"),
    )
    op.create_index("ix_delivery_attempts_invoice_id", "delivery_attempts", ["invoice_id"])


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_table("invoice_delivery")
    op.drop_table("customer_delivery")
