"""Migration 0005 on both engines: it builds the purchase-order tables the models describe
(nothing left for autogenerate to add), and it goes down and up again cleanly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import schemas.po_tables  # noqa: F401  (the tables under test, on SQLModel.metadata)
import schemas.tables  # noqa: F401
from store.db import sync_url
from store.migrations import alembic_config, upgrade

PO_TABLES = {
    "purchase_orders",
    "purchase_order_lines",
    "purchase_order_revisions",
    "delivery_receipts",
    "po_consumptions",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin = request.getfixturevalue("postgresql_admin_url")
    name = f"ift_po_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    yield f"{admin.rpartition('/')[0]}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _state(url: str) -> tuple[set[str], set[str], set[str], list[str]]:
    """PO tables present, customer and contract columns, and what autogenerate would
    still change for the PO tables and the new columns."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            tables = set(found.get_table_names()) & PO_TABLES
            customers = {c["name"] for c in found.get_columns("customers")}
            contracts = {c["name"] for c in found.get_columns("contracts")}
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            ours = (*PO_TABLES, "po_required", "match_tolerances")
            drift = [
                str(diff)
                for diff in compare_metadata(context, SQLModel.metadata)
                if any(name in str(diff) for name in ours)
            ]
    finally:
        engine.dispose()
    return tables, customers, contracts, drift


def test_0005_matches_the_models_and_goes_down_and_up_again(empty_url: str) -> None:
    upgrade(empty_url, "0005")
    tables, customers, contracts, drift = _state(empty_url)
    assert tables == PO_TABLES
    assert {"po_required", "match_tolerances"} <= customers and "po_required" in contracts
    assert drift == []

    command.downgrade(alembic_config(empty_url), "0004")
    tables, customers, contracts, _ = _state(empty_url)
    assert tables == set()
    assert not {"po_required", "match_tolerances"} & customers
    assert "po_required" not in contracts

    upgrade(empty_url, "0005")
    assert _state(empty_url)[0] == PO_TABLES
