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

    Runs on the sandbox's event loop only (effects' ``after_commit`` hooks run there). An
    entry lives while someone waits on it: the last waiter to leave removes it."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], tuple[asyncio.Event, int]] = {}

    def notify(self, kind: str, reference: str) -> None:
        entry = self._events.pop((kind, reference), None)
        if entry is not None:
            entry[0].set()

    async def wait_for(
        self, kind: str, reference: str, read: Callable[[], list[Any]], timeout_s: float
    ) -> list[Any]:
        """`read()` as soon as it is non-empty, or its (empty) answer after `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        key = (kind, reference)
        while True:
            found = read()
            remaining = deadline - loop.time()
            if found or remaining <= 0:
                return found
            event, waiting = self._events.get(key, (asyncio.Event(), 0))
            self._events[key] = (event, waiting + 1)
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return read()
            finally:
                self._leave(key, event)

    def _leave(self, key: tuple[str, str], event: asyncio.Event) -> None:
        entry = self._events.get(key)
        if entry is None or entry[0] is not event:  # notified meanwhile: already removed
            return
        if entry[1] <= 1:
            del self._events[key]
        else:
            self._events[key] = (event, entry[1] - 1)

    def __len__(self) -> int:
        """How many references someone is waiting on (tests check nothing is left behind)."""
        return len(self._events)
