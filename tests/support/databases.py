"""Fresh, migrated databases per test: a copied SQLite file, or a PostgreSQL database
created from a migrated template (fast: no migrations per test)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import psycopg

from store.migrations import upgrade

PG_ADMIN_URL = os.environ.get(
    "INVOICEFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _pg_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


class SqliteFactory:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._template = root / "template.db"
        upgrade(f"sqlite:///{self._template}")

    def new(self) -> str:
        path = self._root / f"{uuid.uuid4().hex}.db"
        shutil.copy(self._template, path)
        return f"sqlite:///{path}"

    def close(self) -> None:
        shutil.rmtree(self._root, ignore_errors=True)


class PostgresFactory:
    def __init__(self) -> None:
        self._prefix = f"ift_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._template = f"{self._prefix}_template"
        self._created: list[str] = []
        self._admin(f'CREATE DATABASE "{self._template}"')
        upgrade(_pg_url(self._template))

    def _admin(self, sql: str) -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def new(self) -> str:
        name = f"{self._prefix}_{len(self._created)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        self._created.append(name)
        return _pg_url(name)

    def close(self) -> None:
        for name in [*self._created, self._template]:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
