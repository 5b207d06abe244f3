"""Migration 0012 on both engines: the delivery tables come and go cleanly, and invoices
and customers already there keep working (no plan: any hour, e-mail then SMS)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect

from store.db import sync_url
from store.migrations import alembic_config, upgrade
from tests.store.test_disputes_migration import _seed_invoice, empty_url  # noqa: F401

TABLES = {"customer_delivery", "invoice_delivery", "delivery_attempts"}


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names()) & TABLES
    finally:
        engine.dispose()


def test_0012_adds_the_delivery_tables_beside_existing_invoices_and_goes_down_again(
    empty_url: str,  # noqa: F811
) -> None:
    upgrade(empty_url, "0011")
    _seed_invoice(empty_url)
    upgrade(empty_url, "0012")
    assert _tables(empty_url) == TABLES

    command.downgrade(alembic_config(empty_url), "0011")
    assert _tables(empty_url) == set()
    upgrade(empty_url, "0012")
    assert _tables(empty_url) == TABLES
