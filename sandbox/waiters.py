"""Wait for a provider record to appear instead of polling for it.

The benchmark's customers (and any test) want "the payment link for invoice X, as soon as it
exists". Polling that at 20 Hz for 50 invoices in flight costs the sandbox and the caller
more CPU than the provider calls being measured; a long-poll costs one request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class RecordWaiters:
    """Events keyed by (kind, reference), set once a record of that kind is committed.

    Runs on the sandbox's event loop only (effects' ``after_commit`` hooks run there)."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], asyncio.Event] = {}

    def notify(self, kind: str, reference: str) -> None:
        event = self._events.pop((kind, reference), None)
        if event is not None:
            event.set()

    async def wait_for(
        self, kind: str, reference: str, read: Callable[[], list[Any]], timeout_s: float
    ) -> list[Any]:
        """`read()` as soon as it is non-empty, or its (empty) answer after `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            found = read()
            remaining = deadline - loop.time()
            if found or remaining <= 0:
                return found
            event = self._events.setdefault((kind, reference), asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return read()
