"""The sandbox's memory: provider records, idempotent responses, the call log and the mailbox.

One SQLite database (a file under ``data_dir``, or ``:memory:`` for tests) behind one lock.
It has to be a file and not a dict because the property we test is "a retry after the
provider restarted still gets the first answer". It is guarded by a ``threading.Lock``
because the SMTP server runs on its own thread; every operation is short and synchronous.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    api TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    idempotency_key TEXT,
    request_body TEXT,
    status INTEGER NOT NULL,
    response_body TEXT,
    at TEXT NOT NULL,
    replayed INTEGER NOT NULL,
    effect INTEGER NOT NULL,
    note TEXT
);
CREATE TABLE IF NOT EXISTS idempotency (
    api TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (api, key)
);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    reference TEXT,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_kind ON records (kind, reference);
CREATE TABLE IF NOT EXISTS webhook_pending (
    event_id TEXT PRIMARY KEY,
    attempt INTEGER NOT NULL,
    due_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS mail (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT UNIQUE,
    mail_from TEXT NOT NULL,
    rcpt_tos TEXT NOT NULL,
    raw BLOB NOT NULL,
    received_at TEXT NOT NULL,
    duplicates INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS smtp_receptions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT,
    rcpt_tos TEXT NOT NULL,
    outcome TEXT NOT NULL,
    at TEXT NOT NULL
);
"""

DB_FILENAME = "sandbox.sqlite3"


def utcnow() -> datetime:
    return datetime.now(UTC)


class CallRecord(BaseModel):
    """One request a provider API received (or one webhook attempt the sandbox made)."""

    seq: int | None = None
    api: str
    method: str
    path: str
    idempotency_key: str | None
    request_body: Any
    status: int
    response_body: Any
    at: datetime
    replayed: bool
    # True when this call changed provider state (created a message, link, payment...).
    effect: bool
    # Why the answer was what it was: an injected fault, a webhook error, a rejection.
    note: str | None = None


class SmtpReception(BaseModel):
    """One message the SMTP server was handed (DATA), or one refused by an injected fault
    before it was: the raw count, duplicates included, that the deduped mailbox hides."""

    seq: int
    message_id: str | None
    to: list[str]
    # accepted (250, first copy), duplicate (250, a Message-ID seen before), lost (kept,
    # then answered 451: fail_after_commit), refused (451 at DATA: error_rate, not kept),
    # refused_rcpt (451 at RCPT: outage, no DATA sent)
    outcome: str
    at: datetime


@dataclass(frozen=True)
class StoredResponse:
    fingerprint: str
    status: int
    body: Any


@dataclass(frozen=True)
class StoredMail:
    id: int
    message_id: str | None
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    received_at: datetime
    duplicates: int


class Tx:
    """Operations that must happen atomically with an idempotency check and its effect."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get_idempotent(self, api: str, key: str) -> StoredResponse | None:
        row = self._conn.execute(
            "SELECT fingerprint, status, body FROM idempotency WHERE api = ? AND key = ?",
            (api, key),
        ).fetchone()
        if row is None:
            return None
        return StoredResponse(row[0], row[1], json.loads(row[2]))

    def put_idempotent(self, api: str, key: str, fingerprint: str, status: int, body: Any) -> None:
        self._conn.execute(
            "INSERT INTO idempotency (api, key, fingerprint, status, body, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (api, key, fingerprint, status, json.dumps(body), utcnow().isoformat()),
        )

    def insert(self, kind: str, id: str, reference: str | None, data: dict[str, Any]) -> None:
        self._conn.execute(
            "INSERT INTO records (id, kind, reference, data, created_at) VALUES (?, ?, ?, ?, ?)",
            (id, kind, reference, json.dumps(data), utcnow().isoformat()),
        )

    def update(self, id: str, data: dict[str, Any]) -> None:
        self._conn.execute("UPDATE records SET data = ? WHERE id = ?", (json.dumps(data), id))

    def get(self, kind: str, id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT data FROM records WHERE kind = ? AND id = ?", (kind, id)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def put_pending_webhook(self, event_id: str, attempt: int, due_at: float) -> None:
        """Attempt `attempt` of the event's delivery is due at `due_at` (Unix time)."""
        self._conn.execute(
            "INSERT OR REPLACE INTO webhook_pending (event_id, attempt, due_at) VALUES (?, ?, ?)",
            (event_id, attempt, due_at),
        )

    def list(self, kind: str, reference: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT data FROM records WHERE kind = ?", [kind]
        if reference is not None:
            sql += " AND reference = ?"
            args.append(reference)
        rows = self._conn.execute(sql + " ORDER BY rowid", args).fetchall()
        return [json.loads(r[0]) for r in rows]


class SandboxStore:
    """Thread-safe access to the sandbox database."""

    def __init__(self, data_dir: Path | None) -> None:
        if data_dir is None:
            target = ":memory:"
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            target = str(data_dir / DB_FILENAME)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(target, check_same_thread=False)
        if data_dir is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # No fsync per commit (WAL stays consistent; a power cut may lose the last few
            # calls). Under the lock, a per-call fsync stalled the sandbox's event loop and
            # capped the whole stack at ~8 invoices/s in the benchmark.
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._conn.commit()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._lock:
            try:
                yield Tx(self._conn)
            except BaseException:
                self._conn.rollback()
                raise
            self._conn.commit()

    # -- provider records ---------------------------------------------------------------

    def records(self, kind: str, reference: str | None = None) -> list[dict[str, Any]]:
        with self.transaction() as tx:
            return tx.list(kind, reference)

    def record(self, kind: str, id: str) -> dict[str, Any] | None:
        with self.transaction() as tx:
            return tx.get(kind, id)

    # -- webhooks not yet acknowledged -----------------------------------------------------

    def put_pending_webhook(self, event_id: str, attempt: int, due_at: float) -> None:
        with self.transaction() as tx:
            tx.put_pending_webhook(event_id, attempt, due_at)

    def drop_pending_webhook(self, event_id: str) -> None:
        with self.transaction():
            self._conn.execute("DELETE FROM webhook_pending WHERE event_id = ?", (event_id,))

    def pending_webhooks(self) -> list[tuple[str, int, float]]:
        """(event id, next attempt, due at) for every delivery still to make, oldest first."""
        with self.transaction():
            rows = self._conn.execute(
                "SELECT event_id, attempt, due_at FROM webhook_pending ORDER BY due_at"
            ).fetchall()
        return [(row[0], row[1], row[2]) for row in rows]

    # -- call log -------------------------------------------------------------------------

    def record_call(self, call: CallRecord) -> None:
        with self.transaction():
            self._conn.execute(
                "INSERT INTO calls (api, method, path, idempotency_key, request_body, status,"
                " response_body, at, replayed, effect, note)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    call.api,
                    call.method,
                    call.path,
                    call.idempotency_key,
                    json.dumps(call.request_body),
                    call.status,
                    json.dumps(call.response_body),
                    call.at.isoformat(),
                    int(call.replayed),
                    int(call.effect),
                    call.note,
                ),
            )

    def calls(
        self,
        api: str | None = None,
        replayed: bool | None = None,
        idempotency_key: str | None = None,
        limit: int | None = None,
    ) -> list[CallRecord]:
        """Recorded calls, oldest first (the newest `limit` when a limit is given)."""
        where, args = [], []
        for column, value in (
            ("api", api),
            ("replayed", None if replayed is None else int(replayed)),
            ("idempotency_key", idempotency_key),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT * FROM calls"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.transaction():
            rows = self._conn.execute(sql, args).fetchall()
        return [_call_from_row(r) for r in reversed(rows)]

    # -- mailbox --------------------------------------------------------------------------

    def add_mail(
        self, message_id: str | None, mail_from: str, rcpt_tos: list[str], raw: bytes
    ) -> tuple[int, bool]:
        """Store a message unless one with the same Message-ID exists; (id, was_duplicate)."""
        with self.transaction():
            if message_id is not None:
                row = self._conn.execute(
                    "SELECT seq FROM mail WHERE message_id = ?", (message_id,)
                ).fetchone()
                if row is not None:
                    self._conn.execute(
                        "UPDATE mail SET duplicates = duplicates + 1 WHERE seq = ?", (row[0],)
                    )
                    return row[0], True
            cur = self._conn.execute(
                "INSERT INTO mail (message_id, mail_from, rcpt_tos, raw, received_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (message_id, mail_from, json.dumps(rcpt_tos), raw, utcnow().isoformat()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid, False

    def mails(self) -> list[StoredMail]:
        with self.transaction():
            rows = self._conn.execute("SELECT * FROM mail ORDER BY seq").fetchall()
        return [_mail_from_row(r) for r in rows]

    def mail(self, id: int) -> StoredMail | None:
        with self.transaction():
            row = self._conn.execute("SELECT * FROM mail WHERE seq = ?", (id,)).fetchone()
        return None if row is None else _mail_from_row(row)

    def add_reception(self, message_id: str | None, rcpt_tos: list[str], outcome: str) -> None:
        with self.transaction():
            self._conn.execute(
                "INSERT INTO smtp_receptions (message_id, rcpt_tos, outcome, at)"
                " VALUES (?, ?, ?, ?)",
                (message_id, json.dumps(rcpt_tos), outcome, utcnow().isoformat()),
            )

    def receptions(self) -> list[SmtpReception]:
        """Every SMTP reception, oldest first."""
        with self.transaction():
            rows = self._conn.execute("SELECT * FROM smtp_receptions ORDER BY seq").fetchall()
        return [
            SmtpReception(
                seq=seq,
                message_id=message_id,
                to=json.loads(to),
                outcome=outcome,
                at=datetime.fromisoformat(at),
            )
            for seq, message_id, to, outcome, at in rows
        ]

    def clear_mail(self) -> None:
        with self.transaction():
            self._conn.execute("DELETE FROM mail")
            self._conn.execute("DELETE FROM smtp_receptions")

    def reset(self) -> None:
        with self.transaction():
            tables = ("calls", "idempotency", "records", "mail", "webhook_pending")
            for table in (*tables, "smtp_receptions"):
                self._conn.execute(f"DELETE FROM {table}")


def _call_from_row(row: tuple[Any, ...]) -> CallRecord:
    seq, api, method, path, key, request, status, response, at, replayed, effect, note = row
    return CallRecord(
        seq=seq,
        api=api,
        method=method,
        path=path,
        idempotency_key=key,
        request_body=json.loads(request),
        status=status,
        response_body=json.loads(response),
        at=datetime.fromisoformat(at),
        replayed=bool(replayed),
        effect=bool(effect),
        note=note,
    )


def _mail_from_row(row: tuple[Any, ...]) -> StoredMail:
    seq, message_id, mail_from, rcpt_tos, raw, received_at, duplicates = row
    return StoredMail(
        id=seq,
        message_id=message_id,
        mail_from=mail_from,
        rcpt_tos=json.loads(rcpt_tos),
        raw=bytes(raw),
        received_at=datetime.fromisoformat(received_at),
        duplicates=duplicates,
    )
