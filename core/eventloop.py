"""One way to run our long-lived processes' main coroutine: on uvloop.

The worker, the provider sandbox and the API (uvicorn picks uvloop and httptools by itself
once they are installed) spend much of their CPU in the event loop: thread hand-offs from
aiosqlite, sockets to Temporal, SMTP and the providers. uvloop does that work in C;
``make bench`` shows the difference.
"""

from __future__ import annotations

import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    return uvloop.run(main)


def freeze_startup_objects() -> None:
    """For a process that serves one thing until it stops (the API, the worker), after its
    startup: what startup made lives as long as the process, so keep it out of the
    collector's full passes, which otherwise stall everything in flight. Never in a process
    that builds apps again and again (tests): frozen objects are never collected."""
    gc.collect()
    gc.freeze()
