"""PO matching on invoices and the exception queue: invoice lines name their PO line,
invoices carry the upstream app's reference, each matched invoice keeps its outcome, and
exceptions wait in their queue with an owner (round robin per group)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("po_line", sa.Integer(), nullable=True))
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_ref", sa.String(), nullable=True))
    op.create_table(
        "invoice_matches",
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), primary_key=True),
        sa.Column("po_id", sa.String(), nullable=True),
        sa.Column("po_number", sa.String(), nullable=True),
        sa.Column("po_revision", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("variances", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("accepted_by", sa.String(), nullable=True),
        sa.Column("justification", sa.String(), nullable=True),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "invoice_exceptions",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("po_number", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason_codes", sa.String(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("group_id", sa.String(), nullable=True),
        sa.Column("owner_id", sa.String(), nullable=True),
        sa.Column("owner_name", sa.String(), nullable=True),
        sa.Column("escalation_owner_id", sa.String(), nullable=True),
        sa.Column("escalation_group_id", sa.String(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalates_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_on", sa.String(), nullable=True),
        sa.Column("resolution", sa.String(), nullable=True),
        sa.Column("resolved_by", sa.String(), nullable=True),
        sa.Column("justification", sa.String(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_invoice_exceptions_invoice_id", "invoice_exceptions", ["invoice_id"])
    op.create_index("ix_invoice_exceptions_customer_id", "invoice_exceptions", ["customer_id"])
    op.create_index("ix_invoice_exceptions_owner_id", "invoice_exceptions", ["owner_id"])
    op.create_index(
        "ix_invoice_exceptions_status_opened", "invoice_exceptions", ["status", "opened_at"]
    )
    op.create_table(
        "exception_turns",
        sa.Column("group_id", sa.String(), primary_key=True),
        sa.Column("next_turn", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("exception_turns")
    op.drop_index("ix_invoice_exceptions_status_opened", table_name="invoice_exceptions")
    op.drop_index("ix_invoice_exceptions_owner_id", table_name="invoice_exceptions")
    op.drop_index("ix_invoice_exceptions_customer_id", table_name="invoice_exceptions")
    op.drop_index("ix_invoice_exceptions_invoice_id", table_name="invoice_exceptions")
    op.drop_table("invoice_exceptions")
    op.drop_table("invoice_matches")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("external_ref")
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_column("po_line")
