"""purchase orders: POs per customer with their lines, revisions, delivery records and what
issued invoices consumed of them; a customer or contract can require a PO, and a customer
carries its default matching tolerances

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LINE = ("purchase_order_lines.po_id", "purchase_order_lines.line_number")


def upgrade() -> None:
    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("match_mode", sa.String(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("tolerances", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "number"),
    )
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_orders_number"), ["number"], unique=False)
        batch_op.create_index(batch_op.f("ix_purchase_orders_status"), ["status"], unique=False)

    op.create_table(
        "purchase_order_lines",
        sa.Column("po_id", sa.String(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("quantity_e4", sa.BigInteger(), nullable=False),
        sa.Column("allow_over_delivery", sa.Boolean(), nullable=False),
        sa.Column("tolerances", sa.JSON(), nullable=True),
        sa.Column("invoiced_e4", sa.BigInteger(), nullable=False),
        sa.Column("received_e4", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["po_id"], ["purchase_orders.id"]),
        sa.PrimaryKeyConstraint("po_id", "line_number"),
    )

    op.create_table(
        "purchase_order_revisions",
        sa.Column("po_id", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["po_id"], ["purchase_orders.id"]),
        sa.PrimaryKeyConstraint("po_id", "revision"),
    )

    op.create_table(
        "delivery_receipts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("po_id", sa.String(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("quantity_e4", sa.BigInteger(), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["po_id", "line_number"], list(_LINE)),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("po_id", "reference", "line_number"),
    )

    op.create_table(
        "po_consumptions",
        sa.Column("invoice_id", sa.String(), nullable=False),
        sa.Column("po_id", sa.String(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("quantity_e4", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.ForeignKeyConstraint(["po_id", "line_number"], list(_LINE)),
        sa.PrimaryKeyConstraint("invoice_id", "po_id", "line_number"),
    )
    op.create_index("ix_po_consumptions_po_id", "po_consumptions", ["po_id"])

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("po_required", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("match_tolerances", sa.JSON(), nullable=True))
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("po_required", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_column("po_required")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("match_tolerances")
        batch_op.drop_column("po_required")
    op.drop_index("ix_po_consumptions_po_id", table_name="po_consumptions")
    op.drop_table("po_consumptions")
    op.drop_table("delivery_receipts")
    op.drop_table("purchase_order_revisions")
    op.drop_table("purchase_order_lines")
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_orders_status"))
        batch_op.drop_index(batch_op.f("ix_purchase_orders_number"))
    op.drop_table("purchase_orders")
