"""Heartbeats for activities that wait on the outside world (SMTP, provider HTTP calls).

A heartbeat says "this worker is alive and still working on it". With a short
``heartbeat_timeout`` where the activity is started, Temporal retries an attempt whose
worker died (kill -9, lost machine) within seconds instead of after its whole
start-to-close timeout. The beat runs as a background task, so a call of any length keeps
heartbeating while it waits, and a stalled worker (its event loop blocked) stops beating.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from temporalio import activity

# The SDK sends at most one heartbeat per 0.8 x heartbeat_timeout anyway; beating more
# often than that costs a call into the SDK and nothing on the wire.
BEAT_EVERY_S = 1.0

P = ParamSpec("P")
R = TypeVar("R")


@contextlib.asynccontextmanager
async def heartbeating(every_s: float = BEAT_EVERY_S) -> AsyncIterator[None]:
    """Heartbeat every `every_s` while the block runs. The first beat comes after
    `every_s`: the usual call, done in milliseconds, costs Temporal no heartbeat RPC."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(every_s)
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])  # a cancellation of the activity itself still propagates


def heartbeats(
    fn: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """An activity that heartbeats all the while it runs (put it under ``activity.defn``)."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        async with heartbeating():
            return await fn(*args, **kwargs)

    return run
