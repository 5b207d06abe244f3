"""Chaos tests: the stack as separate processes, with faults injected (`make chaos`).

They run only when selected with ``-m chaos`` (what `make chaos` does); otherwise they are
deselected, not reported as skipped, so `make test` leaves them out. Each test starts its
own stack of processes in a scratch folder. The figures of every scenario are printed at
the end of the run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.chaos.harness import FIGURES
from tests.support.processes import ProcessStack, running_processes
from tests.support.stack import Stack

SELECTED = "chaos"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: a chaos scenario (make chaos)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    markexpr = str(config.getoption("markexpr") or "")
    chosen = SELECTED in markexpr and f"not {SELECTED}" not in markexpr
    here = Path(__file__).parent
    ours = [item for item in items if Path(str(item.fspath)).parent == here]
    for item in ours:
        item.add_marker(pytest.mark.chaos)
    if not chosen and ours:
        config.hook.pytest_deselected(items=ours)
        items[:] = [item for item in items if item not in ours]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("chaos figures")
        for figures in FIGURES:
            terminalreporter.write_line(figures.render())


@pytest.fixture
async def processes(tmp_path: Path, sqlite_url: str) -> AsyncIterator[tuple[ProcessStack, Stack]]:
    async with running_processes(tmp_path, sqlite_url) as pair:
        yield pair
