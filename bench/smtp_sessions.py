"""What a kept SMTP session saves: ``make bench-smtp`` (``python -m bench.smtp_sessions``).

Sends BENCH_MESSAGES (default 400) invoice-sized messages one after another through
`EmailSender` to a local aiosmtpd server in this process, once opening a session per
message (``pool_size=0``, the behaviour before sessions were kept) and once keeping them
(the default). The CPU is this process's, so it counts both ends of the conversation, as
the worker and the sandbox share one machine in ``make bench``.
"""

from __future__ import annotations

import asyncio
import os
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from bench.processes import free_port
from integrations.email import EmailSender, SmtpSettings

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "400"))
HTML = "<p>Invoice INV-2026-0042: 2 × Consulting, £360.00 due 24 December 2026.</p>" * 40
TEXT = "Invoice INV-2026-0042: 2 x Consulting, GBP 360.00 due 24 December 2026.\n" * 40


class Accepting:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received += 1
        return "250 OK"


async def send_all(port: int, pool_size: int, offset: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per message."""
    settings = SmtpSettings(host="127.0.0.1", port=port, pool_size=pool_size)
    async with EmailSender(settings) as sender:
        cpu, wall = time.process_time(), time.perf_counter()
        for n in range(offset, offset + MESSAGES):
            await sender.send(
                message_id=f"<inv-{n}.issue@bench>",
                sender="InvoiceFlow Billing <billing@invoiceflow.test>",
                to=["accounts@acme.test"],
                subject="Invoice INV-2026-0042 from InvoiceFlow",
                html=HTML,
                text=TEXT,
            )
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / MESSAGES * 1000, wall / MESSAGES * 1000


async def main() -> None:
    handler = Accepting()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        await send_all(port, 4, 0)  # warm-up: imports, first connections
        rows = [
            ("a session per message", *await send_all(port, 0, MESSAGES)),
            ("kept sessions (pool of 4)", *await send_all(port, 4, 2 * MESSAGES)),
        ]
    finally:
        controller.stop()
    assert handler.received == 3 * MESSAGES, handler.received
    print(f"\nSMTP: {MESSAGES} messages one after another, both ends in this process")
    print(f"  {'':28}{'CPU ms/msg':>12}{'wall ms/msg':>13}")
    for label, cpu, wall in rows:
        print(f"  {label:28}{cpu:12.2f}{wall:13.2f}")


if __name__ == "__main__":
    asyncio.run(main())
