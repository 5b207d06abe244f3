"""Migration 0018 on both engines: the operators table the model describes (nothing left
for autogenerate to add), its e-mail unique, and down and up again cleanly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

import schemas.operator_tables  # noqa: F401  (the table under test, on SQLModel.metadata)
from store.db import sync_url
from store.migrations import alembic_config, upgrade
from tests.store.test_disputes_migration import empty_url  # noqa: F401


def _state(url: str) -> tuple[bool, list[str]]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            present = "operators" in inspect(connection).get_table_names()
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            drift = [
                str(diff)
                for diff in compare_metadata(context, SQLModel.metadata)
                if "operators" in str(diff)
            ]
    finally:
        engine.dispose()
    return present, drift


def _insert(url: str, op_id: str, email: str) -> None:
    engine = create_engine(sync_url(url))
    now = datetime.now(UTC)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO operators (id, email, name, password_hash, active,"
                    " password_changed_at, created_at, updated_at)"
                    " VALUES (:id, :email, 'N', NULL, true, :now, :now, :now)"
                ),
                {"id": op_id, "email": email, "now": now},
            )
    finally:
        engine.dispose()


def test_0018_builds_the_operators_table_with_unique_emails_and_goes_down_and_up(
    empty_url: str,  # noqa: F811
) -> None:
    upgrade(empty_url, "0017")
    assert _state(empty_url)[0] is False
    upgrade(empty_url, "0018")
    assert _state(empty_url) == (True, [])
    _insert(empty_url, "op_1", "a@x.test")
    with pytest.raises(IntegrityError):
        _insert(empty_url, "op_2", "a@x.test")

    command.downgrade(alembic_config(empty_url), "0017")
    assert _state(empty_url)[0] is False
    upgrade(empty_url, "head")
    assert _state(empty_url) == (True, [])
