"""payment look-ups: a customer credit records where it came from (a credit note, or a
payment beyond the invoice's balance and which payment)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 17:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer_credits", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(), nullable=False, server_default="credit_note")
        )
        batch_op.add_column(sa.Column("payment_id", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_credits", schema=None) as batch_op:
        batch_op.drop_column("payment_id")
        batch_op.drop_column("source")
