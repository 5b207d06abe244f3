"""overpayment credit refunds: a request to give a customer credit back through the
payment provider, its amount reserved from the credit until the provider answers

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "customer_credit_refunds"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("credit_id", sa.String(), sa.ForeignKey("customer_credits.id"), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(f"ix_{TABLE}_credit_id", TABLE, ["credit_id"])
    op.create_index(f"ix_{TABLE}_customer_id", TABLE, ["customer_id"])


def downgrade() -> None:
    op.drop_table(TABLE)  # its indexes go with it
