"""The lifecycle benchmark's phases and its table: what ``lifecycle.py`` measures, printed.

The table has a column per phase (floor, floor + SA, effects floor, real); each column's
processes are its own: the worker, the HTTP endpoint and the sandbox that served it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Phase:
    name: str
    wall_s: float
    latencies: list[float]
    cpu: dict[str, float]
    machine_busy: float = 0.0  # share of all cores busy during the phase (/proc/stat)
    # the Temporal server's requests per workflow, by (kind, operation), from its /metrics
    server: dict[tuple[str, str], float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall_s


def merge(*phases: Phase) -> Phase:
    """Rounds of one phase as one: their latencies together, wall time and CPU summed."""
    wall = sum(p.wall_s for p in phases)
    cpu = {k: sum(p.cpu[k] * p.wall_s for p in phases) / wall for k in phases[0].cpu}
    busy = sum(p.machine_busy * p.wall_s for p in phases) / wall
    counts = [len(p.latencies) for p in phases]
    server = {
        k: sum(p.server.get(k, 0.0) * n for p, n in zip(phases, counts, strict=True)) / sum(counts)
        for k in set().union(*(p.server for p in phases))
    }
    latencies = [x for p in phases for x in p.latencies]
    return Phase(phases[0].name, wall, latencies, cpu, busy, server)


@dataclass(frozen=True)
class Column:
    """A phase in the table, with the names of the processes that served it."""

    label: str
    phase: Phase
    worker: str  # a prefix: "worker" takes in "worker-2" (BENCH_WORKERS=2)
    api: str | None = None
    sandbox: str | None = None

    def worker_cpu(self) -> float:
        return sum(v for k, v in self.phase.cpu.items() if k.startswith(self.worker))


def ratios_by_round(
    rounds: Sequence[dict[str, Phase]], numerator: str, denominator: str
) -> list[float]:
    """Throughput of one phase over another's, round by round."""
    return [r[numerator].throughput / r[denominator].throughput for r in rounds]


def ratio_line(label: str, ratios: list[float], target: float | None = None) -> str:
    """``ratio real/floor by round: 0.45, 0.54, 0.54 (median 0.54)``, and the target."""
    line = (
        f"ratio {label} by round: "
        + ", ".join(f"{ratio:.2f}" for ratio in ratios)
        + f" (median {statistics.median(ratios):.2f}"
    )
    return line + (f"; target >= {target})" if target is not None else ")")


def table(columns: list[Column], events: dict[str, int], cores: int) -> list[str]:
    """The figures of each phase, a column each."""
    ms = 1000
    lines: list[str] = []

    def row(label: str, values: list[str]) -> None:
        lines.append(f"{label:36}" + "".join(f"{v:>14}" for v in values))

    def own(process: str | None, phase: Phase) -> str:
        return f"{phase.cpu[process]:.2f}" if process else ""

    phases = [c.phase for c in columns]
    row("", [c.label for c in columns])
    row("throughput (workflows/s)", [f"{p.throughput:.1f}" for p in phases])
    row("end-to-end p50 (ms)", [f"{pct(p.latencies, 50) * ms:.0f}" for p in phases])
    row("end-to-end p99 (ms)", [f"{pct(p.latencies, 99) * ms:.0f}" for p in phases])
    row("history events per workflow", [str(events[p.name]) for p in phases])
    row("worker CPU (cores)", [f"{c.worker_cpu():.2f}" for c in columns])
    row("Temporal server CPU (cores)", [f"{p.cpu['temporal']:.2f}" for p in phases])
    row("HTTP endpoint CPU (cores)", [own(c.api, c.phase) for c in columns])
    row("sandbox CPU (cores)", [own(c.sandbox, c.phase) for c in columns])
    row("bench client CPU (cores)", [f"{p.cpu['bench client']:.2f}" for p in phases])
    row("machine busy (all cores)", [f"{p.machine_busy:.0%}" for p in phases])
    row(
        "machine CPU per workflow (core-ms)",
        [f"{p.machine_busy * cores / p.throughput * ms:.0f}" for p in phases],
    )
    row(
        "worker CPU per workflow (core-ms)",
        [f"{c.worker_cpu() / c.phase.throughput * ms:.0f}" for c in columns],
    )
    row(
        "server CPU per workflow (core-ms)",
        [f"{p.cpu['temporal'] / p.throughput * ms:.0f}" for p in phases],
    )
    row(
        "endpoint + sandbox CPU/wf (core-ms)",
        [
            f"{sum(c.phase.cpu[n] for n in (c.api, c.sandbox) if n) / c.phase.throughput * ms:.0f}"
            if c.api or c.sandbox
            else ""
            for c in columns
        ],
    )
    return lines
