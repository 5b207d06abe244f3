"""Migration 0008 on both engines: the customer-credit tables and invoice columns, and at
head the whole schema matches the models (nothing left for autogenerate to add); invoices
already there start with no credit applied or carried; down and up again cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

import schemas.credit_tables  # noqa: F401  (every table on SQLModel.metadata)
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
from store.db import sync_url
from store.migrations import alembic_config, upgrade
from tests.store.test_disputes_migration import _seed_invoice, empty_url  # noqa: F401

CREDIT_TABLES = {"customer_credits", "customer_credit_applications"}
INVOICE_COLUMNS = {"credit_applied_minor", "credit_carried_minor"}


def _state(url: str) -> tuple[set[str], set[str], list[str]]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            tables = set(found.get_table_names()) & CREDIT_TABLES
            columns = {c["name"] for c in found.get_columns("invoices")} & INVOICE_COLUMNS
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            drift = [str(diff) for diff in compare_metadata(context, SQLModel.metadata)]
    finally:
        engine.dispose()
    return tables, columns, drift


def _credit_columns(url: str) -> tuple[int, int]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT credit_applied_minor, credit_carried_minor FROM invoices"
                    " WHERE id = 'inv_m'"
                )
            ).one()
    finally:
        engine.dispose()
    return int(row[0]), int(row[1])


def test_0008_at_head_the_schema_matches_the_models_and_goes_down_and_up_again(
    empty_url: str,  # noqa: F811
) -> None:
    upgrade(empty_url, "0007")
    _seed_invoice(empty_url)
    upgrade(empty_url, "head")
    tables, columns, drift = _state(empty_url)
    assert (tables, columns) == (CREDIT_TABLES, INVOICE_COLUMNS)
    assert drift == []
    assert _credit_columns(empty_url) == (0, 0)

    command.downgrade(alembic_config(empty_url), "0007")
    assert _state(empty_url)[:2] == (set(), set())

    upgrade(empty_url, "head")
    assert _state(empty_url)[:2] == (CREDIT_TABLES, INVOICE_COLUMNS)
    assert _credit_columns(empty_url) == (0, 0)
