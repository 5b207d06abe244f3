"""Customer credit: a credit note on an invoice already paid, kept on the customer's account
(instead of refunded) and taken off their later invoices; invoices keep what credit they
took and what overpayment they carried to the account

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10 05:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INVOICE_COLUMNS = ("credit_carried_minor", "credit_applied_minor")


def upgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        for name in _INVOICE_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "customer_credits",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("credit_note_id", sa.String(), nullable=False, unique=True),
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("remaining_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_customer_credits_customer_id", "customer_credits", ["customer_id"])
    op.create_table(
        "customer_credit_applications",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("credit_id", sa.String(), sa.ForeignKey("customer_credits.id"), nullable=False),
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("credit_note_id", sa.String(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("credit_id", "invoice_id"),
    )
    op.create_index(
        "ix_customer_credit_applications_credit_id", "customer_credit_applications", ["credit_id"]
    )
    op.create_index(
        "ix_customer_credit_applications_invoice_id",
        "customer_credit_applications",
        ["invoice_id"],
    )


def downgrade() -> None:
    op.drop_table("customer_credit_applications")  # each table's indexes go with it
    op.drop_table("customer_credits")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        for name in _INVOICE_COLUMNS:
            batch_op.drop_column(name)
