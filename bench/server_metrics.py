"""What the Temporal server does per workflow, from its own Prometheus metrics.

The dev server runs with ``--metrics-port``; the benchmark reads ``/metrics`` before and
after each phase. The counters say what the server was asked to do and what that cost it
in its database: requests to the frontend by RPC (starts, polls, completions, signals,
history reads), and persistence requests by operation (history appends, mutable-state
updates, task reads and writes, visibility). Per workflow, side by side for the floor and
the invoices, they show where the server's extra CPU goes without a profiler.
"""

from __future__ import annotations

from collections import Counter

import httpx
from prometheus_client.parser import text_string_to_metric_families

# (label in the report, metric family, the label that names the operation, a filter)
COUNTERS = (
    ("frontend RPC", "service_requests", "operation", {"service_name": "frontend"}),
    ("persistence", "persistence_requests", "operation", {}),
    ("visibility", "visibility_persistence_requests", "operation", {}),
)

Sample = Counter[tuple[str, str]]


async def scrape(url: str) -> Sample:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(url)
        response.raise_for_status()
    return parse(response.text)


def parse(text: str) -> Sample:
    """The counters above, summed by (label, operation), for the default namespace."""
    totals: Sample = Counter()
    wanted = {family: (label, key, match) for label, family, key, match in COUNTERS}
    for family in text_string_to_metric_families(text):
        if family.name not in wanted:
            continue
        label, key, match = wanted[family.name]
        for sample in family.samples:
            if not sample.name.endswith("_total") and sample.name != family.name:
                continue  # _created and the like
            labels = sample.labels
            if labels.get("namespace") not in ("default", None):
                continue
            if any(labels.get(k) != v for k, v in match.items()):
                continue
            totals[(label, labels.get(key, "?"))] += sample.value
    return totals


def per_workflow(before: Sample, after: Sample, workflows: int) -> dict[tuple[str, str], float]:
    return {k: (after[k] - before[k]) / workflows for k in after if after[k] != before[k]}


def report(names: list[str], phases: list[dict[tuple[str, str], float]], top: int = 14) -> str:
    """A table of the operations that differ most between the first phase and the last."""
    keys = set().union(*phases)
    lines = [f"\nTemporal server requests per workflow (its /metrics, {', '.join(names)}):"]
    for label, *_ in COUNTERS:
        total = [sum(v for (kind, _), v in p.items() if kind == label) for p in phases]
        lines.append(f"  {label + ', all':44}" + "".join(f"{v:12.1f}" for v in total))
    ranked = sorted(
        (k for k in keys if max(p.get(k, 0.0) for p in phases) >= 0.05),  # not idle polls
        key=lambda k: abs(phases[-1].get(k, 0) - phases[0].get(k, 0)),
        reverse=True,
    )
    for kind, operation in ranked[:top]:
        values = [p.get((kind, operation), 0.0) for p in phases]
        lines.append(f"  {kind + ': ' + operation:44}" + "".join(f"{v:12.1f}" for v in values))
    return "\n".join(lines)
