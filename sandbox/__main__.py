"""``python -m sandbox``: the provider sandbox for the dev stack, until Ctrl-C or SIGTERM.

Configured by ``SANDBOX_*`` environment variables (see :mod:`sandbox.settings`).
"""

from __future__ import annotations

import asyncio
import signal
import sys

from core import eventloop
from sandbox.runner import running_sandbox
from sandbox.settings import SandboxSettings


async def main() -> None:
    settings = SandboxSettings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_sandbox(settings, log_level="info") as sandbox:
        where = settings.data_dir.resolve() if settings.data_dir else "memory only"
        print(
            "InvoiceFlow sandbox running\n"
            f"  HTTP     {sandbox.http_url}  (index, /docs, /mailbox)\n"
            f"  SMTP     {sandbox.smtp_host}:{sandbox.smtp_port}\n"
            f"  pay page {sandbox.settings.public_base_url}/pay/<link id>\n"
            f"  webhooks -> {settings.webhook_url}\n"
            f"  data     {where}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        await stop.wait()
    print("InvoiceFlow sandbox stopped", flush=True)


if __name__ == "__main__":
    try:
        eventloop.run(main())
    except OSError as exc:  # most often: the port is taken by another sandbox
        sys.exit(f"sandbox: cannot start: {exc}")
