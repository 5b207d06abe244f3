"""Disputes: the case with its owner, level and SLA clock, its timeline and evidence,
credit notes, refunds at the payment provider and payment-plan instalments; invoices keep
what was credited and written off, and an adjusted invoice's links (voided original, its
replacement)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09 05:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INVOICE_COLUMNS = (
    "replaced_by_invoice_id",
    "replaces_invoice_id",
    "voided_at",
    "written_off_minor",
    "credited_minor",
)


def _utc(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credited_minor", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("written_off_minor", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(_utc("voided_at", nullable=True))
        batch_op.add_column(sa.Column("replaces_invoice_id", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("replaced_by_invoice_id", sa.String(), nullable=True))
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("number", sa.String(), nullable=False, unique=True),
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("original_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("disputed_minor", sa.BigInteger(), nullable=False),
        sa.Column("credited_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("written_off_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.String(), nullable=True),
        sa.Column("owner_name", sa.String(), nullable=True),
        sa.Column("group_id", sa.String(), nullable=True),
        _utc("sla_due_at", nullable=True),
        sa.Column("sla_breached", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("opened_by", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False, unique=True),
        sa.Column("resolution", sa.String(), nullable=True),
        sa.Column("resolution_note", sa.String(), nullable=True),
        sa.Column("root_cause", sa.String(), nullable=True),
        sa.Column("resolved_level", sa.Integer(), nullable=True),
        _utc("opened_at"),
        _utc("resolved_at", nullable=True),
        _utc("updated_at"),
    )
    op.create_index("ix_disputes_invoice_id", "disputes", ["invoice_id"])
    op.create_index("ix_disputes_customer_id", "disputes", ["customer_id"])
    op.create_index("ix_disputes_owner_id", "disputes", ["owner_id"])
    op.create_index("ix_disputes_status_opened", "disputes", ["status", "opened_at"])
    op.create_table(
        "dispute_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dispute_id", sa.String(), sa.ForeignKey("disputes.id"), nullable=False),
        sa.Column("event_key", sa.String(), nullable=False, unique=True),
        _utc("at"),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("visible_to_customer", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_dispute_events_dispute_id", "dispute_events", ["dispute_id"])
    op.create_table(
        "dispute_evidence",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("dispute_id", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(), nullable=False),
        sa.Column("filename", sa.String(), nullable=False),
        sa.Column("side", sa.String(), nullable=False),
        sa.Column("added_by", sa.String(), nullable=False),
        _utc("added_at"),
        sa.UniqueConstraint("dispute_id", "sha256"),
    )
    op.create_index("ix_dispute_evidence_dispute_id", "dispute_evidence", ["dispute_id"])
    op.create_table(
        "credit_notes",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("number", sa.String(), nullable=False, unique=True),
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("dispute_id", sa.String(), nullable=True),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("settlement", sa.String(), nullable=False),
        sa.Column("refund_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        _utc("created_at"),
    )
    op.create_index("ix_credit_notes_invoice_id", "credit_notes", ["invoice_id"])
    op.create_index("ix_credit_notes_dispute_id", "credit_notes", ["dispute_id"])
    op.create_table(
        "payment_plan_instalments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dispute_id", sa.String(), nullable=False),
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("status", sa.String(), nullable=False),
        sa.UniqueConstraint("invoice_id", "dispute_id", "sequence"),
    )
    op.create_index(
        "ix_payment_plan_instalments_invoice_id", "payment_plan_instalments", ["invoice_id"]
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("key", sa.String(), nullable=False, unique=True),
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("payment_id", sa.String(), nullable=False),
        sa.Column("credit_note_id", sa.String(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        _utc("created_at"),
    )
    op.create_index("ix_refunds_invoice_id", "refunds", ["invoice_id"])
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"])
    op.create_index("ix_refunds_credit_note_id", "refunds", ["credit_note_id"])


def downgrade() -> None:
    op.drop_table("refunds")  # each table's indexes go with it
    op.drop_table("payment_plan_instalments")
    op.drop_table("credit_notes")
    op.drop_table("dispute_evidence")
    op.drop_table("dispute_events")
    op.drop_table("disputes")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        for name in _INVOICE_COLUMNS:
            batch_op.drop_column(name)
