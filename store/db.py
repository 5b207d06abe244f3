"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production).

Users configure a plain URL (``sqlite:///.data/invoiceflow.db``,
``postgresql://postgres@127.0.0.1/invoiceflow``); this module picks the async driver.
SQLite runs in WAL mode, on the event loop's thread (`store.sqlite_inline`).
A transaction that will write begins IMMEDIATE (it takes the write
lock up front, so writers queue on it instead of failing half-way with "database is
locked"); a read-only one begins DEFERRED and never waits for writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from store import sqlite_inline

SessionFactory = async_sessionmaker[AsyncSession]


def async_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        parsed = parsed.set(drivername="sqlite")
    elif parsed.drivername.startswith("postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


WRITE_OPTION = "invoiceflow_writes"


async def begin_write(session: AsyncSession) -> None:
    """Mark the transaction that starts now as one that writes (call it first)."""
    await session.connection(execution_options={WRITE_OPTION: True})


def _configure_sqlite(engine: Any) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event decide
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        writes = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN DEFERRED")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    ensure_sqlite_dir(url)
    # 50 concurrent API requests should not queue for a connection (default pool: 5 + 10)
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        if sqlite_inline.supports(parsed):
            # it awaits another writer's lock itself (busy_timeout 0, see the module)
            kwargs.setdefault("async_creator", sqlite_inline.inline_creator(parsed.database or ""))
        else:
            # aiosqlite blocks only its own thread, so SQLite's busy handler may wait there
            kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_async_engine(async_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine.sync_engine)
    return engine


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


_sqlite_write_locks: dict[int, asyncio.Lock] = {}


def _write_lock(factory: SessionFactory) -> contextlib.AbstractAsyncContextManager[Any]:
    """SQLite has one writer at a time. Writers of the same process queue on an asyncio lock,
    which wakes the next one as soon as the lock is free, instead of on SQLite's busy
    handler, which polls with sleeps of up to 100 ms and so adds latency without work."""
    engine = factory.kw["bind"]
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    return _sqlite_write_locks.setdefault(id(engine), asyncio.Lock())


@asynccontextmanager
async def transaction(
    factory: SessionFactory, *, writes: bool = True
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error."""
    async with (
        _write_lock(factory) if writes else contextlib.nullcontext(),
        factory() as session,
        session.begin(),
    ):
        if writes:
            await begin_write(session)
        yield session


@functools.cache
def _insert_if_absent_statement(dialect_name: str, table: Any) -> Any:
    """One prepared INSERT ... ON CONFLICT DO NOTHING per (database, table), reused with new
    parameters: building and cache-keying a fresh statement per row cost more CPU than
    executing it (make bench, BENCH_PROFILE=1)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    # SQLAlchemy 2.1 reports rowcount -1 for an INSERT on psycopg unless asked to keep it,
    # which made every insert look new on PostgreSQL
    return dialect.insert(table).on_conflict_do_nothing().execution_options(preserve_rowcount=True)


async def insert_if_absent(session: AsyncSession, table: Any, **values: Any) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on either database; True if the row was new.

    This is how a retried step writes its row once: the second insert finds the key taken.
    """
    statement = _insert_if_absent_statement(session.get_bind().dialect.name, table)
    connection = await session.connection()
    result = await connection.execute(statement, values)
    return bool(result.rowcount)
