"""The lifecycle benchmark's table and ratios: rounds pooled, ratios per round, a column per
phase with its own processes."""

from __future__ import annotations

import pytest

from bench.report import Column, Phase, merge, ratio_line, ratios_by_round, table


def phase(name: str, wall_s: float, count: int, **cpu: float) -> Phase:
    base = {"temporal": 0.5, "bench client": 0.05}
    return Phase(name, wall_s, [0.1] * count, {**base, **cpu}, machine_busy=0.9)


def test_ratios_are_taken_round_by_round() -> None:
    rounds = [
        {"floor": phase("floor", 10, 200), "real": phase("real", 20, 200)},
        {"floor": phase("floor", 10, 200), "real": phase("real", 12.5, 200)},
    ]

    assert ratios_by_round(rounds, "real", "floor") == pytest.approx([0.5, 0.8])
    assert ratios_by_round(rounds, "floor", "real") == pytest.approx([2.0, 1.25])


def test_ratio_line_gives_every_round_the_median_and_the_target() -> None:
    assert ratio_line("real/floor", [0.45, 0.6, 0.54]) == (
        "ratio real/floor by round: 0.45, 0.60, 0.54 (median 0.54)"
    )
    assert ratio_line("real/effects floor", [0.9, 0.8], 0.85) == (
        "ratio real/effects floor by round: 0.90, 0.80 (median 0.85; target >= 0.85)"
    )


def test_merged_rounds_pool_latencies_and_weigh_cpu_by_wall_time() -> None:
    first = Phase("real", 10, [1.0] * 100, {"worker": 0.4}, 0.8, {("persistence", "x"): 2.0})
    second = Phase("real", 30, [2.0] * 300, {"worker": 0.8}, 1.0, {("persistence", "x"): 4.0})

    merged = merge(first, second)

    assert merged.wall_s == 40
    assert merged.throughput == pytest.approx(10.0)
    assert sorted(merged.latencies) == [1.0] * 100 + [2.0] * 300
    assert merged.cpu["worker"] == pytest.approx((0.4 * 10 + 0.8 * 30) / 40)
    assert merged.machine_busy == pytest.approx((0.8 * 10 + 1.0 * 30) / 40)
    assert merged.server[("persistence", "x")] == pytest.approx((2.0 * 100 + 4.0 * 300) / 400)


def test_each_column_counts_its_own_processes_only() -> None:
    cpu = {
        "worker": 0.3,
        "worker-2": 0.1,
        "floor-worker": 0.02,
        "effects-worker": 0.05,
        "api": 0.07,
        "sandbox": 0.13,
        "effects-api": 0.01,
        "effects-sandbox": 0.01,
    }
    real = phase("real", 10, 100, **cpu)  # 10 workflows/s
    floor = phase("floor", 10, 100, **{**cpu, "floor-worker": 0.6})
    columns = [
        Column("floor", floor, "floor-worker"),
        Column("real", real, "worker", "api", "sandbox"),
    ]

    lines = table(columns, {"floor": 25, "real": 38}, cores=2)
    rows = {line[:36].strip(): line[36:].split() for line in lines[1:]}

    assert lines[0].split() == ["floor", "real"]
    assert rows["worker CPU (cores)"] == ["0.60", "0.40"]  # worker + worker-2
    assert rows["worker CPU per workflow (core-ms)"] == ["60", "40"]
    assert rows["HTTP endpoint CPU (cores)"] == ["0.07"]  # the floor has none
    assert rows["sandbox CPU (cores)"] == ["0.13"]
    assert rows["endpoint + sandbox CPU/wf (core-ms)"] == ["20"]
    assert rows["history events per workflow"] == ["25", "38"]
    assert rows["machine CPU per workflow (core-ms)"] == ["180", "180"]
