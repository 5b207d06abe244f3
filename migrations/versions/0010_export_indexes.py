"""Indexes for the accountant's export, which reads a period of invoices, payments and
credit notes in (date, id) keyset order: without them every batch scanned its table

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12 05:00:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("ix_invoices_issue_date_id", "invoices", ["issue_date", "id"]),
    ("ix_payments_paid_at_id", "payments", ["paid_at", "id"]),
    ("ix_credit_notes_created_at_id", "credit_notes", ["created_at", "id"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in _INDEXES:
        op.drop_index(name, table_name=table)
