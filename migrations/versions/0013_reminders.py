"""Reminders: the contract's schedule and late charge, a late-charge invoice's link to the
invoice it charges for, every reminder step as it went out, and reminder holds

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 17:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("reminders", sa.JSON(), nullable=True))
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("late_charge_for", sa.String(), nullable=True))
        batch.create_index("ix_invoices_late_charge_for", ["late_charge_for"])
    op.create_table(
        "reminders",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), nullable=False),
        sa.Column("step_key", sa.String(), nullable=False),
        sa.Column("tone", sa.String(), nullable=False),
        _at("due_at"),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("compensation_minor", sa.BigInteger(), nullable=False),
        sa.Column("annual_rate", sa.String(), nullable=True),
        sa.Column("charge_invoice_id", sa.String(), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        _at("recorded_at"),
    )
    op.create_index("ix_reminders_invoice_id", "reminders", ["invoice_id"])
    op.create_table(
        "reminder_holds",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("invoice_id", sa.String(), sa.ForeignKey("invoices.id"), nullable=True),
        sa.Column("customer_id", sa.String(), sa.ForeignKey("customers.id"), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        _at("until"),
        sa.Column("held_by", sa.String(), nullable=False),
        _at("created_at"),
        _at("released_at", nullable=True),
        sa.Column("released_by", sa.String(), nullable=True),
        sa.CheckConstraint(
            "(invoice_id IS NULL) <> (customer_id IS NULL)", name="ck_reminder_holds_target"
        ),
    )
    op.create_index("ix_reminder_holds_invoice_id", "reminder_holds", ["invoice_id"])
    op.create_index("ix_reminder_holds_customer_id", "reminder_holds", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_reminder_holds_customer_id", table_name="reminder_holds")
    op.drop_index("ix_reminder_holds_invoice_id", table_name="reminder_holds")
    op.drop_table("reminder_holds")
    op.drop_index("ix_reminders_invoice_id", table_name="reminders")
    op.drop_table("reminders")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_index("ix_invoices_late_charge_for")
        batch.drop_column("late_charge_for")
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("reminders")
