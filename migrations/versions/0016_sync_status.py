"""sync status: posts failing past the alert delay and each invoice's failing episode, for
the exception list (GET /exceptions?kind=accounting_sync) and GET /invoices?sync_status=

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounting_sync_failures",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("gave_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_accounting_sync_failures_invoice_id", "accounting_sync_failures", ["invoice_id"]
    )
    op.create_table(
        "accounting_sync_episodes",
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), primary_key=True),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_accounting_documents_status", "accounting_documents", ["status"])


def downgrade() -> None:
    op.drop_index("ix_accounting_documents_status", table_name="accounting_documents")
    op.drop_table("accounting_sync_episodes")
    op.drop_index("ix_accounting_sync_failures_invoice_id", table_name="accounting_sync_failures")
    op.drop_table("accounting_sync_failures")
