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
microseconds to a few milliseconds on the invoice's path. A long report query on a large
SQLite database holds the loop for its duration; SQLite is the embedded default for one
machine, and production runs on PostgreSQL (psycopg's own asyncio, no thread either).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.engine import URL

#: how long a statement waits for another writer before it fails with "database is locked"
BUSY_TIMEOUT_S = 30.0
_FIRST_BACKOFF_S = 0.0005
_MAX_BACKOFF_S = 0.02


_WAITABLE = {sqlite3.SQLITE_BUSY, getattr(sqlite3, "SQLITE_BUSY_RECOVERY", 261)}


def _waitable(error: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock, and waiting can help: plain SQLITE_BUSY. Not
    SQLITE_BUSY_SNAPSHOT (a read transaction that wants to write after another writer
    committed: only a rollback clears it) and not SQLITE_LOCKED (a conflict inside this
    connection, which no wait resolves)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code in _WAITABLE
    return str(error) == "database is locked"


async def _retry_busy(connection: sqlite3.Connection, call: Callable[[], Any]) -> Any:
    """Run ``call``; while SQLite answers busy, wait (without blocking the loop) and retry.

    Only a statement that starts a transaction (BEGIN) or runs outside one, or a COMMIT,
    is retried: refused with SQLITE_BUSY it had no effect, so running it again is what
    SQLite's own busy handler would do. Inside a transaction a busy answer is final (a
    DEFERRED reader that now wants to write would wait in vain), and it is raised at once,
    as it was raised at once with SQLite's busy handler.
    """
    deadline: float | None = None
    backoff = _FIRST_BACKOFF_S
    while True:
        in_transaction = connection.in_transaction
        try:
            return call()
        except sqlite3.OperationalError as error:
            if not _waitable(error) or connection.in_transaction != in_transaction:
                raise
            if in_transaction and call is not connection.commit:
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
            await _retry_busy(cursor.connection, lambda: cursor.execute(sql))
        else:
            await _retry_busy(cursor.connection, lambda: cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        rows = list(parameters)  # a retry must see every row again
        cursor = self._cursor
        await _retry_busy(cursor.connection, lambda: cursor.executemany(sql, rows))
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
        self._conn.isolation_level = value  # type: ignore[assignment]  # None or a mode

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        await _retry_busy(self._conn, self._conn.commit)

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


def supports(url: URL) -> bool:
    """The inline driver takes plain database files. A URL with query parameters (URI
    filenames, ``mode=ro``, ``cache=shared``, a timeout) or an in-memory database keeps
    aiosqlite, which honours them."""
    database = url.database or ""
    return not url.query and database not in ("", ":memory:") and not database.startswith("file:")


def inline_creator(database: str) -> Callable[[], Awaitable[InlineConnection]]:
    """``async_creator`` for ``create_async_engine``: a connection to the file ``database``."""

    async def connect() -> InlineConnection:
        # check_same_thread=False: SQLAlchemy may close a pooled connection from the
        # garbage collector's thread; every statement still runs on the loop's thread
        connection = sqlite3.connect(
            database, timeout=0, isolation_level=None, check_same_thread=False
        )
        return InlineConnection(connection)

    return connect
