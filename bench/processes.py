"""Start the local stack for a benchmark in a scratch folder, on ports of its own, and read
each process's CPU time and peak memory from /proc."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr
from temporalio.converter import DataConverter

from core.codec import new_key_text
from core.settings import Settings
from core.temporal import data_converter
from schemas.search_attributes import cli_flags
from store.migrations import upgrade

BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BENCH_CODEC_KEYS = new_key_text("bench")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {port}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class BenchStack:
    root: Path
    env: dict[str, str]
    temporal_address: str
    api_url: str
    sandbox_url: str
    temporal_metrics_url: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def start(
        self, name: str, argv: list[str], port: int | None, extra_env: dict[str, str] | None = None
    ) -> None:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 (lives with the child)
        proc = subprocess.Popen(argv, env={**self.env, **(extra_env or {})}, stdout=log, stderr=log)
        self.procs[name] = proc
        if port:
            wait_port(port, proc, name)

    @contextmanager
    def paused(self, names: list[str]) -> Iterator[None]:
        """SIGSTOP these processes for the block (they hold their connections), then SIGCONT."""
        for name in names:
            self.procs[name].send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            for name in names:
                self.procs[name].send_signal(signal.SIGCONT)

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        # a run leaves a few hundred MB (Temporal's database, logs): keep it only if asked
        if os.environ.get("BENCH_KEEP"):
            print(f"bench stack kept in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def start_stack(workers: list[tuple[str, list[str]]]) -> BenchStack:
    """Temporal dev server persisted to a SQLite file (WAL), sandbox + SMTP, API, workers."""
    root = Path(tempfile.mkdtemp(prefix="invoiceflow-bench-"))
    temporal_port, api_port, sandbox_port, smtp_port, metrics_port = (free_port() for _ in range(5))
    api_url = f"http://127.0.0.1:{api_port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    # BENCH_DATABASE_URL runs the same benchmark on PostgreSQL (an empty database)
    database_url = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{root}/invoiceflow.db")
    upgrade(database_url)
    env = {
        **os.environ,
        "INVOICEFLOW_DATABASE_URL": database_url,
        "INVOICEFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "INVOICEFLOW_API_PORT": str(api_port),
        "INVOICEFLOW_PUBLIC_BASE_URL": api_url,
        "INVOICEFLOW_SMTP_PORT": str(smtp_port),
        "INVOICEFLOW_PAYMENTS_URL": sandbox_url,
        "INVOICEFLOW_SMS_URL": sandbox_url,
        "INVOICEFLOW_ACCOUNTING_URL": sandbox_url,
        "INVOICEFLOW_LOG_LEVEL": "WARNING",
        # no Prometheus endpoint: BENCH_WORKERS workers would share the default port, and
        # the figures stay comparable with the runs before it existed
        "INVOICEFLOW_WORKER_METRICS_ADDRESS": "",
        # any hour of the day: outside the default delivery window invoices wait for 08:00
        "INVOICEFLOW_QUIET_HOURS": '{"enabled": false}',
        # payloads encrypted as in production (BENCH_CODEC=off measures without)
        **(
            {}
            if os.environ.get("BENCH_CODEC") == "off"
            else {"INVOICEFLOW_CODEC_KEYS": BENCH_CODEC_KEYS}
        ),
        "SANDBOX_HTTP_PORT": str(sandbox_port),
        "SANDBOX_SMTP_PORT": str(smtp_port),
        "SANDBOX_DATA_DIR": str(root / "sandbox"),
        "SANDBOX_WEBHOOK_URL": f"{api_url}/webhooks/payments",
        "PYTHONUNBUFFERED": "1",
    }
    stack = BenchStack(
        root,
        env,
        f"127.0.0.1:{temporal_port}",
        api_url,
        sandbox_url,
        f"http://127.0.0.1:{metrics_port}/metrics",
    )
    stack.start(
        "temporal",
        [
            str(BIN / "temporal"),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(temporal_port),
            "--db-filename",
            str(root / "temporal.db"),
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--metrics-port",
            str(metrics_port),
            "--log-level",
            "error",
            *cli_flags(),
        ],
        temporal_port,
    )
    stack.start("sandbox", [sys.executable, "-m", "sandbox"], sandbox_port)
    stack.start("api", [sys.executable, "-m", "api"], api_port)
    for name, argv in workers:
        stack.start(name, argv, None)
    return stack


def stack_data_converter(env: dict[str, str]) -> DataConverter:
    """The converter of the stack's processes, for the benchmark's own client: encrypting
    when the stack does."""
    keys = env.get("INVOICEFLOW_CODEC_KEYS")
    return data_converter(
        Settings(environment="development", codec_keys=SecretStr(keys) if keys else None)
    )
