"""The whole system as separate OS processes, as `make run` starts it, for the chaos tests:
the Temporal dev server on a persisted SQLite file (cli/devstack.temporal_argv), the provider
sandbox with its SMTP server (``python -m sandbox``, state in a file), the API
(``python -m api``) and the worker (``python -m worker``, tests/support/worker_process), each
on ports of its own, each killable (SIGKILL or SIGTERM) and restartable on the same data.

`Stack` (tests/support/stack.py) is the test's view of it: the same helpers as the in-process
stack, pointed at these processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from cli.devstack import codec_endpoint, temporal_argv
from core.settings import Settings
from core.temporal import connect
from store import api_keys
from store.db import create_engine, session_factory, transaction
from tests.support.stack import CLIENT_LIMITS, WEBHOOK_SECRET, Stack
from tests.support.worker_process import ROOT, environment, kill, start_worker

SANDBOX_KEY = "sandbox-key"
START_TIMEOUT_S = 120.0  # a loaded 2-core machine starts a Python process slowly


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Part:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int | None
    process: asyncio.subprocess.Process | None = None
    starts: int = 0


@dataclass
class ProcessStack:
    """Ports, files and processes of one stack; `start_*`/`stop`/`kill` act on one part."""

    root: Path
    settings: Settings
    parts: dict[str, Part] = field(default_factory=dict)
    worker: asyncio.subprocess.Process | None = None
    worker_starts: int = 0
    temporal: Client | None = None

    @property
    def sandbox_url(self) -> str:
        return self.settings.payments_url

    @property
    def api_url(self) -> str:
        return self.settings.public_base_url

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    async def start(self, name: str) -> float:
        """Start the part and wait until it serves; the moment it does (loop time)."""
        if name == "worker":
            return await self.start_worker()
        part = self.parts[name]
        assert part.process is None or part.process.returncode is not None, f"{name} runs"
        with self.log(name).open("ab") as log:
            part.process = await asyncio.create_subprocess_exec(
                *part.argv,
                cwd=ROOT,
                env=part.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        part.starts += 1
        await self._wait_serving(part)
        return asyncio.get_running_loop().time()

    async def _wait_serving(self, part: Part) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert part.process is not None and part.port is not None
        while not port_open(part.port):
            if part.process.returncode is not None:
                raise RuntimeError(
                    f"{part.name} exited ({part.process.returncode}): {self.tail(part.name)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{part.name} not serving after {START_TIMEOUT_S}s")
            await asyncio.sleep(0.1)

    async def start_worker(self) -> float:
        """Start a worker and wait until it polls its task queue (Temporal lists it, by its
        pid, among the queue's pollers)."""
        assert self.worker is None or self.worker.returncode is not None, "a worker runs"
        self.worker = await start_worker(self.settings, self.log("worker"))
        self.worker_starts += 1
        identity = f"{self.worker.pid}@"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not await self._polling(identity):
            if self.worker.returncode is not None:
                code = self.worker.returncode
                raise RuntimeError(f"worker exited ({code}): {self.tail('worker')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker not polling after {START_TIMEOUT_S}s")
            await asyncio.sleep(0.2)
        return asyncio.get_running_loop().time()

    async def _polling(self, identity: str) -> bool:
        if self.temporal is None:
            self.temporal = await connect(self.settings)
        request = DescribeTaskQueueRequest(
            namespace=self.settings.temporal_namespace,
            task_queue=TaskQueue(name=self.settings.task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
        try:
            described = await self.temporal.workflow_service.describe_task_queue(request)
        except RPCError:
            return False  # the server itself is still starting
        return any(p.identity.startswith(identity) for p in described.pollers)

    async def stop(self, name: str, signum: int = signal.SIGKILL, timeout: float = 60) -> float:
        """Signal the part (kill -9 by default) and wait for it to exit; the moment it did."""
        process = self.worker if name == "worker" else self.parts[name].process
        assert process is not None
        if signum == signal.SIGKILL:
            await kill(process)
        elif process.returncode is None:
            process.send_signal(signum)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                await kill(process)
        if name != "worker":  # its port must be free before it starts again
            port = self.parts[name].port
            deadline = time.monotonic() + timeout
            while port is not None and port_open(port) and time.monotonic() < deadline:  # noqa: ASYNC110 (a port, not an event)
                await asyncio.sleep(0.1)
        return asyncio.get_running_loop().time()

    def running(self, name: str) -> bool:
        process = self.worker if name == "worker" else self.parts[name].process
        return process is not None and process.returncode is None

    def tail(self, name: str, chars: int = 3000) -> str:
        log = self.log(name)
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    async def stop_all(self) -> None:
        if self.worker is not None:
            await kill(self.worker)
        for name in ("api", "sandbox", "temporal"):
            if self.running(name):
                await self.stop(name, signal.SIGTERM, timeout=20)


def process_stack(
    root: Path, database_url: str, *, ui: bool = False, **overrides: Any
) -> ProcessStack:
    """Ports and files for a stack in `root`; `overrides` are Settings fields. `ui`: the
    Temporal server serves its Web UI too (on `settings.temporal_ui_port`), as `make run`
    starts it."""
    temporal_port, api_port, sandbox_port, smtp_port = (free_port() for _ in range(4))
    if ui:
        overrides.setdefault("temporal_ui_port", free_port())
    api_url = f"http://127.0.0.1:{api_port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    settings = Settings(
        environment="test",
        database_url=database_url,
        temporal_address=f"127.0.0.1:{temporal_port}",
        task_queue="chaos",
        api_host="127.0.0.1",
        api_port=api_port,
        public_base_url=api_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        payments_url=sandbox_url,
        sms_url=sandbox_url,
        accounting_url=sandbox_url,
        payments_api_key=SecretStr(SANDBOX_KEY),
        sms_api_key=SecretStr(SANDBOX_KEY),
        accounting_api_key=SecretStr(SANDBOX_KEY),
        payments_webhook_secret=SecretStr(WEBHOOK_SECRET),
        documents_dir=str(root / "documents"),
        evidence_dir=str(root / "evidence"),
        log_level="WARNING",
        **overrides,
    )
    base = {**environment(settings), "PYTHONUNBUFFERED": "1"}
    sandbox_env = {
        **os.environ,
        "SANDBOX_HTTP_PORT": str(sandbox_port),
        "SANDBOX_SMTP_PORT": str(smtp_port),
        "SANDBOX_DATA_DIR": str(root / "sandbox"),
        "SANDBOX_API_KEY": SANDBOX_KEY,
        "SANDBOX_WEBHOOK_URL": f"{api_url}/webhooks/payments",
        "SANDBOX_WEBHOOK_SECRET": WEBHOOK_SECRET,
        # the provider's webhook retries (1 min ... 1 day), 1,000 times faster: a webhook
        # that found the API down comes again within seconds, as in the in-process stack
        "SANDBOX_WEBHOOK_TIME_SCALE": "1e-3",
        "PYTHONUNBUFFERED": "1",
    }
    python = sys.executable
    parts = [
        Part(
            "temporal",
            temporal_argv(
                "127.0.0.1",
                temporal_port,
                root / "temporal.db",
                ui_port=settings.temporal_ui_port if ui else None,
                codec_endpoint=codec_endpoint(api_url),
            ),
            dict(os.environ),
            temporal_port,
        ),
        Part("sandbox", [python, "-m", "sandbox"], sandbox_env, sandbox_port),
        Part("api", [python, "-m", "api"], base, api_port),
    ]
    return ProcessStack(root, settings, {p.name: p for p in parts})


@contextlib.asynccontextmanager
async def running_processes(
    root: Path, database_url: str, *, ui: bool = False, **overrides: Any
) -> AsyncIterator[tuple[ProcessStack, Stack]]:
    """Start every part (the worker last) and yield the processes and the test's `Stack`:
    an API client with a fresh key, a sandbox client, a Temporal client, the database."""
    processes = process_stack(root, database_url, ui=ui, **overrides)
    engine = create_engine(database_url)
    try:
        for name in ("temporal", "sandbox", "api"):
            await processes.start(name)
        await processes.start_worker()
        sessions = session_factory(engine)
        async with transaction(sessions) as session:
            _, plain_key = await api_keys.create(session, "chaos")
        temporal = await connect(processes.settings)
        limits = httpx.Limits(max_connections=200, keepalive_expiry=CLIENT_LIMITS.keepalive_expiry)
        async with (
            httpx.AsyncClient(
                base_url=processes.api_url,
                headers={"Authorization": f"Bearer {plain_key}"},
                timeout=30,
                limits=limits,
            ) as api,
            httpx.AsyncClient(
                base_url=processes.sandbox_url,
                headers={"Authorization": f"Bearer {SANDBOX_KEY}"},
                timeout=30,
                limits=limits,
            ) as sandbox,
        ):
            yield (
                processes,
                Stack(processes.settings, temporal, api, sandbox, sessions, processes.api_url),
            )
    finally:
        await processes.stop_all()
        await engine.dispose()
