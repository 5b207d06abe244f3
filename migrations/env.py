"""Alembic environment: runs migrations on the URL handed in by ``store.migrations``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import schemas.credit_tables  # noqa: F401  (registers the tables on SQLModel.metadata)
import schemas.delivery_tables  # noqa: F401
import schemas.dispute_tables  # noqa: F401
import schemas.document_tables  # noqa: F401
import schemas.exception_tables  # noqa: F401
import schemas.operator_tables  # noqa: F401
import schemas.payment_check_tables  # noqa: F401
import schemas.po_tables  # noqa: F401
import schemas.refund_tables  # noqa: F401
import schemas.reminder_tables  # noqa: F401
import schemas.sync_tables  # noqa: F401
import schemas.tables  # noqa: F401
import schemas.webhook_tables  # noqa: F401

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
