"""One phase of ``make bench``: `count` runs of one path at BENCH_CONCURRENCY, with the
CPU each process and the machine spent, and the Temporal server's requests per workflow."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

from bench.processes import BenchStack, cpu_seconds
from bench.report import Phase
from bench.server_metrics import per_workflow, scrape

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "50"))


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


async def run_phase(
    name: str, stack: BenchStack, one: Callable[[int], Awaitable[float]], count: int
) -> Phase:
    gate = asyncio.Semaphore(CONCURRENCY)
    server_before = await scrape(stack.temporal_metrics_url)  # before the CPU is read
    before = {p: cpu_seconds(stack.pid(p)) for p in stack.procs}
    before["bench client"] = sum(os.times()[:2])
    machine_before = machine_jiffies()

    async def guarded(i: int) -> float:
        async with gate:
            return await one(i)

    started = time.perf_counter()
    latencies = await asyncio.gather(*(guarded(i) for i in range(count)))
    wall = time.perf_counter() - started
    cpu = {p: (cpu_seconds(stack.pid(p)) - before[p]) / wall for p in stack.procs}
    cpu["bench client"] = (sum(os.times()[:2]) - before["bench client"]) / wall
    busy, total = (a - b for a, b in zip(machine_jiffies(), machine_before, strict=True))
    await asyncio.sleep(1)  # the server's last transfer and visibility tasks of the phase
    server = per_workflow(server_before, await scrape(stack.temporal_metrics_url), count)
    return Phase(name, wall, list(latencies), cpu, busy / total, server)
