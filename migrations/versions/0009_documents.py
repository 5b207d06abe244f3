"""Documents: the PDFs and e-invoices issued for invoices and credit notes (stored once per
version, content-addressed), and what a customer needs on a tax invoice and for e-invoices
(postal address, tax number, the e-invoice syntax they want)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-11 05:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CUSTOMER_COLUMNS = ("address", "tax_id", "einvoice_format")


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for name in _CUSTOMER_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(), nullable=True))
    op.create_table(
        "documents",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("subject_id", sa.String(), nullable=False),
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(), nullable=False),
        sa.Column("filename", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("subject_id", "kind", "version"),
    )
    op.create_index("ix_documents_invoice_id", "documents", ["invoice_id"])


def downgrade() -> None:
    op.drop_table("documents")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for name in _CUSTOMER_COLUMNS:
            batch_op.drop_column(name)
