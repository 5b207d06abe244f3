"""Migration 0007 on both engines: it builds the dispute tables and the new invoice
columns the models describe (nothing left for autogenerate to add), keeps the invoices
already there (their credited and written-off amounts start at 0), and goes down and up
again cleanly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

import schemas.credit_tables  # noqa: F401  (every table on SQLModel.metadata)
import schemas.dispute_tables  # noqa: F401
import schemas.document_tables  # noqa: F401
import schemas.exception_tables  # noqa: F401
import schemas.po_tables  # noqa: F401
import schemas.refund_tables  # noqa: F401
import schemas.tables  # noqa: F401
from store.db import sync_url
from store.migrations import alembic_config, upgrade

DISPUTE_TABLES = {
    "disputes",
    "dispute_events",
    "dispute_evidence",
    "credit_notes",
    "payment_plan_instalments",
    "refunds",
}
# what later revisions add to 0007's tables (0010: the export's indexes), or name like them
# (0017's customer_credit_refunds holds "refunds")
LATER = {"ix_credit_notes_created_at_id", "ix_invoices_issue_date_id", "customer_credit_refunds"}
INVOICE_COLUMNS = {
    "credited_minor",
    "written_off_minor",
    "voided_at",
    "replaces_invoice_id",
    "replaced_by_invoice_id",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin = request.getfixturevalue("postgresql_admin_url")
    name = f"ift_dsp_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    yield f"{admin.rpartition('/')[0]}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _state(url: str) -> tuple[set[str], set[str], list[str]]:
    """Dispute tables present, the new invoice columns present, and what autogenerate
    would still change in them (0007's part of the schema matches the models)."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            tables = set(found.get_table_names()) & DISPUTE_TABLES
            columns = {c["name"] for c in found.get_columns("invoices")} & INVOICE_COLUMNS
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            ours = (*DISPUTE_TABLES, *INVOICE_COLUMNS)  # later revisions add their own
            drift = [
                str(diff)
                for diff in compare_metadata(context, SQLModel.metadata)
                if any(name in str(diff) for name in ours)
                and not any(name in str(diff) for name in LATER)
            ]
    finally:
        engine.dispose()
    return tables, columns, drift


def _seed_invoice(url: str) -> None:
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO customers (id, name, email, locale, created_at, po_required)"
                    " VALUES ('cus_m', 'M', 'm@x.test', 'en_GB', '2026-11-01', false)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO contracts (id, customer_id, currency, tax_region,"
                    " payment_terms_days, rates, invoice_series, created_at, po_required)"
                    " VALUES ('con_m', 'cus_m', 'GBP', 'GB', 30, '[]', 'INV', '2026-11-01',"
                    " false)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO invoices (id, customer_id, contract_id, status, currency,"
                    " tax_region, subtotal_minor, tax_minor, total_minor, paid_minor,"
                    " tax_lines, created_by, created_at, updated_at)"
                    " VALUES ('inv_m', 'cus_m', 'con_m', 'ISSUED', 'GBP', 'GB', 100, 20, 120,"
                    " 0, '[]', 'test', '2026-11-01', '2026-11-01')"
                )
            )
    finally:
        engine.dispose()


def _amounts(url: str) -> tuple[int, int]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT credited_minor, written_off_minor FROM invoices WHERE id = 'inv_m'")
            ).one()
    finally:
        engine.dispose()
    return int(row[0]), int(row[1])


def test_0007_matches_the_models_keeps_invoices_and_goes_down_and_up_again(
    empty_url: str,
) -> None:
    upgrade(empty_url, "0006")
    _seed_invoice(empty_url)
    upgrade(empty_url, "0007")
    tables, columns, drift = _state(empty_url)
    assert tables == DISPUTE_TABLES
    assert columns == INVOICE_COLUMNS
    assert drift == []
    assert _amounts(empty_url) == (0, 0)

    command.downgrade(alembic_config(empty_url), "0006")
    tables, columns, _ = _state(empty_url)
    assert tables == set() and columns == set()

    upgrade(empty_url, "0007")
    assert _state(empty_url)[:2] == (DISPUTE_TABLES, INVOICE_COLUMNS)
    assert _amounts(empty_url) == (0, 0)
