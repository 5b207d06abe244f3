"""SQLite for SQLAlchemy's asyncio engine, run on the event loop's own thread.

aiosqlite runs every call (cursor, execute, fetch, close, commit) on a thread of its own
and wakes the loop for each answer. Our statements take microseconds, and those hand-offs
cost several times more CPU than the SQLite work: a read transaction of one SELECT took
1.3 ms of CPU through aiosqlite against 0.2 ms in the same process without it
(``bench/store_path.py`` shows the effect on a whole invoice).

This driver keeps SQLAlchemy's aiosqlite dialect (its SQL, types and adapter) and gives it
a connection whose coroutines call :mod:`sqlite3` directly and so never suspend, with one
exception: the only wait SQLite has (another writer holds the lock) is awaited with
``asyncio.sleep`` between attempts, instead of SQLite's busy handler, which would sleep
with the whole loop blocked. Connections are made with ``busy_timeout=0`` for that reason.

What stays blocking is SQLite's own work (a statement, a WAL checkpoint after a commit):
microseconds to a few milliseconds in this application, and no worse than the GIL
contention aiosqlite's thread caused.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

#: how long a statement waits for another writer before it fails with "database is locked"
BUSY_TIMEOUT_S = 30.0
_FIRST_BACKOFF_S = 0.0005
_MAX_BACKOFF_S = 0.02


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED))
    return "database is locked" in str(error)


async def _retry_busy(call: Callable[[], Any]) -> Any:
    """Run ``call``; while SQLite answers busy, wait (without blocking the loop) and retry.

    A statement refused with SQLITE_BUSY had no effect, so running it again is what
    SQLite's own busy handler does too.
    """
    deadline: float | None = None
    backoff = _FIRST_BACKOFF_S
    while True:
        try:
            return call()
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
            now = time.monotonic()
            deadline = deadline if deadline is not None else now + BUSY_TIMEOUT_S
            if now >= deadline:
                raise
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_S)


class InlineCursor:
    """The async cursor interface SQLAlchemy's adapter awaits, over a sqlite3 cursor."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        cursor = self._cursor
        if parameters is None:
            await _retry_busy(lambda: cursor.execute(sql))
        else:
            await _retry_busy(lambda: cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        rows = list(parameters)  # a retry must see every row again
        await _retry_busy(lambda: self._cursor.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None


class _ImmediateQueue:
    """SQLAlchemy's adapter sets ``isolation_level`` by queueing a call for aiosqlite's
    thread (``_tx.put_nowait((future, function))``); here it runs at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting adapter, as aiosqlite does
            future.set_exception(error)


class InlineConnection:
    """The subset of ``aiosqlite.Connection`` that SQLAlchemy's aiosqlite dialect uses."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection  # the dialect checks it
        self._tx = _ImmediateQueue()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        await _retry_busy(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        """aiosqlite's forced close (SQLAlchemy's ``terminate``)."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def inline_creator(database: str) -> Callable[[], Awaitable[InlineConnection]]:
    """``async_creator`` for ``create_async_engine``: a connection to ``database``."""

    async def connect() -> InlineConnection:
        # check_same_thread=False: SQLAlchemy may close a pooled connection from the
        # garbage collector's thread; every statement still runs on the loop's thread
        connection = sqlite3.connect(
            database, timeout=0, isolation_level=None, check_same_thread=False, uri=True
        )
        return InlineConnection(connection)

    return connect
