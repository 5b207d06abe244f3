"""Start the whole sandbox (HTTP app and SMTP server) inside the current event loop.

Tests use :func:`running_sandbox` as a fixture and ``python -m sandbox`` uses it too, so
both run exactly the same thing. Port 0 means "any free port": the HTTP socket is bound
here and handed to uvicorn (no race); the SMTP port is probed first, since aiosmtpd's
Controller binds by number. The SMTP server runs on the Controller's own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import structlog
import uvicorn
from aiosmtpd.controller import Controller

from sandbox.app import create_app
from sandbox.faults import FaultBook
from sandbox.mailbox import MailboxHandler
from sandbox.settings import SandboxSettings
from sandbox.state import SandboxStore

log = structlog.get_logger()

SMTP_HOSTNAME = "sandbox.invoiceflow.test"


@dataclass(frozen=True)
class SandboxHandle:
    settings: SandboxSettings  # with the ports actually in use
    http_url: str
    smtp_host: str
    smtp_port: int


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the process owner (pytest, __main__) decides."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every response waits ~40 ms on a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def _free_port(host: str) -> int:
    with _listen(host, 0) as probe:
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def running_sandbox(
    settings: SandboxSettings, *, log_level: str = "warning"
) -> AsyncIterator[SandboxHandle]:
    """Run the sandbox until the block exits; yields where to reach it."""
    async with contextlib.AsyncExitStack() as stack:
        http_socket = stack.enter_context(_listen(settings.host, settings.http_port))
        http_port = http_socket.getsockname()[1]
        smtp_port = settings.smtp_port or _free_port(settings.host)
        settings = settings.model_copy(update={"http_port": http_port, "smtp_port": smtp_port})
        store = SandboxStore(settings.data_dir)
        stack.callback(store.close)
        faults = FaultBook()  # one set of switches for the HTTP providers and the SMTP server

        smtp = Controller(
            MailboxHandler(store, faults),
            hostname=settings.host,
            port=smtp_port,
            server_hostname=SMTP_HOSTNAME,
        )
        await asyncio.to_thread(smtp.start)
        stack.push_async_callback(asyncio.to_thread, smtp.stop)

        config = uvicorn.Config(
            create_app(settings, store, faults),
            log_level=log_level,
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
        server = _Server(config)
        serving = asyncio.get_running_loop().create_task(server.serve(sockets=[http_socket]))
        stack.push_async_callback(_stop, server, serving)
        while not server.started:
            if serving.done():
                serving.result()
                raise RuntimeError("sandbox HTTP server stopped during startup")
            await asyncio.sleep(0.01)

        handle = SandboxHandle(
            settings=settings,
            http_url=f"http://{_url_host(settings.host)}:{http_port}",
            smtp_host=settings.host,
            smtp_port=smtp_port,
        )
        log.info("sandbox.started", http_url=handle.http_url, smtp_port=smtp_port)
        yield handle
    log.info("sandbox.stopped")


async def _stop(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    if serving.done():  # it failed during startup; that error is already on its way
        return
    server.should_exit = True
    try:
        await asyncio.wait_for(asyncio.shield(serving), timeout=10)
    except TimeoutError:
        server.force_exit = True
        await serving


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
