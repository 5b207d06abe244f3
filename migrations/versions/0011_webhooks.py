"""Outgoing webhooks: endpoints (subscriptions), events (one per business fact, keyed by
the audit step), deliveries (one per event and endpoint), every attempt, and the
dispatcher's cursor over the audit trail

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-13 05:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(), nullable=True),
        _at("disabled_at", nullable=True),
        sa.Column("created_by", sa.String(), nullable=False),
        _at("created_at"),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("invoice_id", sa.String(), nullable=True),
        sa.Column("source_key", sa.String(), nullable=False),
        _at("occurred_at"),
        sa.Column("payload", sa.JSON(), nullable=False),
        _at("created_at"),
    )
    op.create_index("ix_webhook_events_type", "webhook_events", ["type"])
    op.create_index("ix_webhook_events_invoice_id", "webhook_events", ["invoice_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("event_id", sa.String(), sa.ForeignKey("webhook_events.id"), nullable=False),
        sa.Column(
            "endpoint_id", sa.String(), sa.ForeignKey("webhook_endpoints.id"), nullable=False
        ),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("series", sa.Integer(), nullable=False),
        sa.Column("started", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        _at("delivered_at", nullable=True),
        _at("created_at"),
        _at("updated_at"),
        sa.UniqueConstraint("event_id", "endpoint_id"),
    )
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])
    op.create_index("ix_webhook_deliveries_endpoint_id", "webhook_deliveries", ["endpoint_id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "delivery_id", sa.String(), sa.ForeignKey("webhook_deliveries.id"), nullable=False
        ),
        sa.Column("series", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        _at("at"),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("retry_after_s", sa.Float(), nullable=True),
        sa.UniqueConstraint("delivery_id", "series", "attempt"),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])
    op.create_table(
        "webhook_cursors",
        sa.Column("source", sa.String(), primary_key=True),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("gaps", sa.JSON(), nullable=False),
        _at("updated_at"),
    )


def downgrade() -> None:
    op.drop_table("webhook_cursors")  # each table's indexes go with it
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("webhook_endpoints")
