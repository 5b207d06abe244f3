"""SQLite on the event loop's thread: no driver thread, and a writer waiting for another
process's lock waits without blocking the loop, up to its time limit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from schemas.tables import AuditEvent
from store import audit, sqlite_inline
from store.db import create_engine, session_factory, transaction
from store.migrations import upgrade


def database_file(url: str) -> str:
    return url.removeprefix("sqlite:///")


async def record(sessions, step_key: str) -> bool:  # type: ignore[no-untyped-def]
    async with transaction(sessions) as session:
        return await audit.record(
            session,
            step_key=step_key,
            entity="invoice",
            action="invoice.test",
            actor="test",
            at=datetime(2026, 11, 24, tzinfo=UTC),
        )


async def test_statements_run_without_a_driver_thread(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    engine = create_engine(sqlite_url)
    sessions = session_factory(engine)
    threads_before = threading.active_count()
    assert await record(sessions, "k:1") is True
    assert await record(sessions, "k:1") is False
    async with transaction(sessions, writes=False) as session:
        keys = (await session.exec(select(AuditEvent.step_key))).all()
    assert keys == ["k:1"]
    assert threading.active_count() == threads_before  # aiosqlite starts one per connection
    await engine.dispose()


async def test_a_writer_waits_for_another_process_lock_without_blocking_the_loop(
    sqlite_url: str,
) -> None:
    upgrade(sqlite_url)
    engine = create_engine(sqlite_url)
    sessions = session_factory(engine)
    await record(sessions, "warm-up")  # the pool's connection exists before the lock is taken

    other = sqlite3.connect(database_file(sqlite_url), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    ticking = asyncio.create_task(ticker())
    writing = asyncio.create_task(record(sessions, "k:waited"))
    await asyncio.sleep(0.3)
    assert not writing.done()  # still waiting for the lock
    ticks_while_waiting = ticks
    other.execute("COMMIT")
    assert await asyncio.wait_for(writing, 5) is True
    ticking.cancel()
    other.close()
    assert ticks_while_waiting >= 20  # the loop ran on: 0.3 s at 5 ms a tick, with slack
    await engine.dispose()


async def test_a_writer_gives_up_after_the_busy_timeout(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade(sqlite_url)
    monkeypatch.setattr(sqlite_inline, "BUSY_TIMEOUT_S", 0.2)
    engine = create_engine(sqlite_url)
    sessions = session_factory(engine)
    other = sqlite3.connect(database_file(sqlite_url), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            await asyncio.wait_for(record(sessions, "k:never"), 5)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await record(sessions, "k:after") is True  # the connection is still usable
    async with transaction(sessions, writes=False) as session:
        keys = (await session.exec(select(AuditEvent.step_key))).all()
    assert keys == ["k:after"]
    await engine.dispose()


async def test_a_reader_that_turns_writer_under_another_lock_fails_at_once(
    sqlite_url: str,
) -> None:
    """Inside a DEFERRED transaction a busy answer is final (waiting cannot help once
    another writer holds the lock): it is raised at once, not after the 30 s limit."""
    upgrade(sqlite_url)
    engine = create_engine(sqlite_url)
    sessions = session_factory(engine)
    await record(sessions, "k:before")
    other = sqlite3.connect(database_file(sqlite_url), isolation_level=None)
    try:
        async with transaction(sessions, writes=False) as session:
            await session.exec(select(AuditEvent.step_key))  # the read snapshot is taken
            other.execute("BEGIN IMMEDIATE")
            started = asyncio.get_running_loop().time()
            with pytest.raises(OperationalError, match="database is locked"):
                await audit.record(
                    session, step_key="k:late", entity="invoice", action="x", actor="test"
                )
            assert asyncio.get_running_loop().time() - started < 1
            await session.rollback()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await record(sessions, "k:after") is True
    await engine.dispose()


def test_urls_with_parameters_or_in_memory_keep_aiosqlite() -> None:
    from sqlalchemy.engine import make_url

    assert sqlite_inline.supports(make_url("sqlite+aiosqlite:///.data/invoiceflow.db"))
    assert not sqlite_inline.supports(make_url("sqlite+aiosqlite:///db.sqlite?mode=ro&uri=true"))
    assert not sqlite_inline.supports(make_url("sqlite+aiosqlite:///:memory:"))
    assert not sqlite_inline.supports(make_url("sqlite+aiosqlite://"))
