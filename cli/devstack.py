"""``make run``: start every part of the embedded stack, print where each one is, and stop
them all cleanly on Ctrl-C. Data lives under ``.data/`` and survives restarts.

SIGINT, SIGTERM and SIGHUP all stop the stack, however many arrive and whenever they do
(make forwards a SIGTERM its group already got, so two arrive at once): the handler only
records the signal, the main loop acts on it at safe points, and the stop itself cannot
be interrupted. Each part runs in its own process group, which is what gets signalled;
and a part whose CLI is killed outright gets SIGTERM from the kernel."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from core.settings import get_settings
from schemas.search_attributes import cli_flags

console = Console()
DATA = Path(".data")
DEV_KEY_FILE = DATA / "dev-api-key"
# the dev operator's login for the ops dashboards: "email password", made once
DEV_OPERATOR_FILE = DATA / "dev-operator"
DEV_OPERATOR_EMAIL = "dev@invoiceflow.local"
# the dev stack's payload-encryption key (INVOICEFLOW_CODEC_KEYS), made once, so restarts
# read the history they wrote
DEV_CODEC_KEY_FILE = DATA / "dev-codec-key"
BIN = Path(sys.executable).parent


@dataclass
class Part:
    name: str
    argv: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


class StopSignals:
    """Records SIGINT/SIGTERM/SIGHUP instead of raising from wherever the code happens to
    be (inside Popen a started child would be lost; inside stop() the rest would be)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.received: int | None = None

    def install(self) -> None:
        # also when started in the background, where a shell leaves SIGINT ignored
        for signum in self.SIGNALS:
            signal.signal(signum, self._record)

    def _record(self, signum: int, _frame: object) -> None:
        if self.received is None:
            self.received = signum

    def __bool__(self) -> bool:
        return self.received is not None


_PR_SET_PDEATHSIG = 1
_prctl: Callable[..., int] | None
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: no last resort, the orderly stop remains
    _prctl = None


def _die_with_cli() -> None:
    """In each part's child before exec: SIGTERM when the CLI dies without stopping it
    (kill -9), instead of running on under PID 1 and holding its port."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_for_port(part: Part, stopping: StopSignals | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stopping:
            return
        if part.process and part.process.poll() is not None:
            raise RuntimeError(
                f"{part.name} exited with code {part.process.returncode}; see {DATA}/logs"
            )
        if not port_free(part.port):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{part.name} did not open port {part.port} within {timeout:.0f}s")


def dev_api_key(database_url: str) -> str:
    """The dev stack's API key: made once, kept in .data/dev-api-key, registered (hashed)."""
    from store import api_keys
    from store.db import create_engine, session_factory, transaction

    plain = DEV_KEY_FILE.read_text().strip() if DEV_KEY_FILE.exists() else ""
    if not plain:
        plain = api_keys.KEY_PREFIX + "dev_" + secrets.token_urlsafe(24)
        DEV_KEY_FILE.write_text(plain + "\n")
        DEV_KEY_FILE.chmod(0o600)

    async def register() -> None:
        engine = create_engine(database_url)
        async with transaction(session_factory(engine)) as session:
            await api_keys.create_with_value(session, "dev-stack", plain)
        await engine.dispose()

    asyncio.run(register())
    return plain


def dev_operator(database_url: str) -> tuple[str, str]:
    """The dev stack's operator (e-mail, password) for /ops: the password made once and kept
    in .data/dev-operator; the operator created when the database has none by that e-mail."""
    from store import operators
    from store.db import create_engine, session_factory, transaction

    saved = DEV_OPERATOR_FILE.read_text().split() if DEV_OPERATOR_FILE.exists() else []
    email, password = saved if len(saved) == 2 else (DEV_OPERATOR_EMAIL, secrets.token_urlsafe(12))
    if len(saved) != 2:
        DEV_OPERATOR_FILE.write_text(f"{email} {password}\n")
        DEV_OPERATOR_FILE.chmod(0o600)

    async def register() -> None:
        engine = create_engine(database_url)
        async with transaction(session_factory(engine)) as session:
            if await operators.find_by_email(session, email) is None:
                new = operators.NewOperator(email, "Dev Operator", password)
                await operators.create(session, new)
        await engine.dispose()

    asyncio.run(register())
    return email, password


def temporal_argv(
    host: str,
    port: int,
    db_filename: Path,
    *,
    ui_port: int | None,
    log_level: str = "warn",
    codec_endpoint: str | None = None,
) -> list[str]:
    """The Temporal dev server on a persisted SQLite database (WAL), the project's search
    attributes registered; ``ui_port=None`` runs it headless. The chaos tests start the same
    server, and restart it on the same file. `codec_endpoint`: the UI asks the API's codec
    server to show payloads clear (api/routes/codec.py); the UI never fetches news (no
    network)."""
    ui = ["--ui-port", str(ui_port)] if ui_port is not None else ["--headless"]
    if ui_port is not None:
        ui.append("--ui-disable-news-fetch")
        if codec_endpoint:
            ui += ["--ui-codec-endpoint", codec_endpoint]
    return [
        str(BIN / "temporal"),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        *ui,
        "--db-filename",
        str(db_filename),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--log-level",
        log_level,
        *cli_flags(),
    ]


def parts() -> list[Part]:
    """The stack's processes. Every address comes from the INVOICEFLOW_ settings, so the
    sandbox listens exactly where the worker will look for the providers and SMTP."""
    settings = get_settings()
    temporal_host, _, temporal_port = settings.temporal_address.rpartition(":")
    sandbox_port = urlsplit(settings.payments_url).port or 80
    python = sys.executable
    api_url = f"http://{settings.api_host}:{settings.api_port}"
    return [
        Part(
            "temporal",
            temporal_argv(
                temporal_host,
                int(temporal_port),
                DATA / "temporal.db",
                ui_port=settings.temporal_ui_port,
                codec_endpoint=codec_endpoint(settings.public_base_url),
            ),
            int(temporal_port),
        ),
        Part(
            "sandbox",
            [python, "-m", "sandbox"],
            sandbox_port,
            {
                "SANDBOX_DATA_DIR": str(DATA / "sandbox"),
                "SANDBOX_WEBHOOK_URL": f"{api_url}/webhooks/payments",
                "SANDBOX_HTTP_PORT": str(sandbox_port),
                "SANDBOX_SMTP_PORT": str(settings.smtp_port),
                "SANDBOX_API_KEY": settings.payments_api_key.get_secret_value(),
                "SANDBOX_WEBHOOK_SECRET": settings.payments_webhook_secret.get_secret_value(),
            },
        ),
        # waited for on its metrics port (opened before it connects to Temporal), if any
        Part(
            "worker", [python, "-m", "worker"], _port_of(settings.effective_worker_metrics_address)
        ),
        Part("api", [python, "-m", "api"], settings.api_port),
    ]


def codec_endpoint(public_base_url: str) -> str:
    return f"{public_base_url.rstrip('/')}/codec"


def dev_codec_keys() -> None:
    """Without INVOICEFLOW_CODEC_KEYS, the dev stack encrypts under a key of its own, made
    once in .data/ (never in code) and handed to every part through the environment."""
    if os.environ.get("INVOICEFLOW_CODEC_KEYS") or get_settings().codec_keys is not None:
        return
    from core.codec import new_key_text

    text = DEV_CODEC_KEY_FILE.read_text().strip() if DEV_CODEC_KEY_FILE.exists() else ""
    if not text:
        text = new_key_text("dev-1")
        DEV_CODEC_KEY_FILE.write_text(text + "\n")
        DEV_CODEC_KEY_FILE.chmod(0o600)
    os.environ["INVOICEFLOW_CODEC_KEYS"] = text


def _port_of(address: str | None) -> int:
    return int(address.rpartition(":")[2]) if address else 0


def _signal_group(part: Part, signum: int) -> None:
    """The part's whole process group (it leads its own session), so nothing it started
    outlives it."""
    if part.process is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(part.process.pid, signum)


def stop(running: list[Part], timeout: float = 15) -> None:
    """SIGTERM to every part, newest first; whatever is left after timeout is killed."""
    for part in reversed(running):
        if part.process and part.process.poll() is None:
            _signal_group(part, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for part in reversed(running):
        if part.process is None:
            continue
        try:
            part.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        # also what the part left behind in its group
        _signal_group(part, signal.SIGKILL)
        part.process.wait()


def _say(message: str) -> None:
    # after SIGHUP the terminal may be gone: a failed print must not skip the stop
    with contextlib.suppress(OSError, ValueError):
        console.print(message)


def run() -> int:
    stopping = StopSignals()
    stopping.install()
    settings = get_settings()
    DATA.mkdir(exist_ok=True)
    (DATA / "logs").mkdir(exist_ok=True)
    dev_codec_keys()
    stack = parts()
    busy = [f"{p.name} (port {p.port})" for p in stack if p.port and not port_free(p.port)]
    if busy:
        console.print(f"[red]Ports in use, is the stack already running?[/red] {', '.join(busy)}")
        return 1

    from store.migrations import upgrade

    upgrade(settings.database_url)
    key = dev_api_key(settings.database_url)
    login = dev_operator(settings.database_url)
    running: list[Part] = []
    try:
        for part in stack:
            if stopping:
                break
            log = open(DATA / "logs" / f"{part.name}.log", "ab")  # noqa: SIM115 (lives with the child)
            # own process group: Ctrl-C reaches only us, and we stop the parts in order
            part.process = subprocess.Popen(
                part.argv,
                env={**os.environ, **part.env},
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_die_with_cli,
            )
            running.append(part)
            if part.port:
                wait_for_port(part, stopping)
            if not stopping:
                console.print(f"[green]✓[/green] {part.name} started")
        if not stopping:
            print_table(key, login)
        while not stopping and all(p.process and p.process.poll() is None for p in running):
            time.sleep(0.2)
        if stopping:
            _say("\nstopping…")
            return 0
        dead = [p.name for p in running if p.process and p.process.poll() is not None]
        console.print(f"[red]stopped: {', '.join(dead)} exited; see {DATA}/logs[/red]")
        return 1
    except RuntimeError as err:
        _say(f"[red]{err}[/red]")
        return 1
    finally:
        stop(running)
        _say("all parts stopped; data kept in .data/")


def print_table(key: str, login: tuple[str, str] | None = None) -> None:
    settings = get_settings()
    table = Table(title="InvoiceFlow dev stack", show_header=True)
    table.add_column("part")
    table.add_column("where")
    table.add_row("API (OpenAPI docs)", f"http://{settings.api_host}:{settings.api_port}/docs")
    sandbox = settings.payments_url.rstrip("/")
    table.add_row("Temporal UI", f"http://127.0.0.1:{settings.temporal_ui_port}")
    table.add_row(
        "Codec server (UI, CLI)",
        f"{codec_endpoint(settings.public_base_url)}: payloads are encrypted; sign in to the"
        " ops dashboards, then tick 'Include cross-origin credentials' in the UI's Codec"
        " Server settings",
    )
    table.add_row("Temporal gRPC", settings.temporal_address)
    table.add_row(f"Mailbox (SMTP {settings.smtp_host}:{settings.smtp_port})", f"{sandbox}/mailbox")
    table.add_row("Provider sandbox", f"{sandbox}/")
    table.add_row("Database", settings.database_url)
    table.add_row("Logs", f"{DATA}/logs/")
    table.add_row("Dev API key", key)
    table.add_row("API metrics", f"http://{settings.api_host}:{settings.api_port}/metrics")
    worker_metrics = settings.effective_worker_metrics_address
    if worker_metrics is not None:
        table.add_row("Worker metrics", f"http://{worker_metrics}/metrics")
    if login is not None:
        ops = f"http://{settings.api_host}:{settings.api_port}/ops/sign-in"
        table.add_row("Ops dashboards", ops)
        table.add_row("Dev operator", f"{login[0]} / {login[1]}")
    console.print(table)
    console.print("Try: [bold]make demo[/bold] in another terminal. Ctrl-C stops everything.")
