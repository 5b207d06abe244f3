"""approval configuration versions: every approver, group, rule and delegation carries
its version and when it last changed; groups can be deactivated

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("approvers", "approver_groups", "approval_rules", "delegations")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("version", sa.Integer(), nullable=False, server_default="1")
            )
            batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
            if table == "approver_groups":
                batch_op.add_column(
                    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
                )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == "approver_groups":
                batch_op.drop_column("active")
            batch_op.drop_column("updated_at")
            batch_op.drop_column("version")
