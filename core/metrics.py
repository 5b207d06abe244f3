"""The worker's Prometheus metrics: one endpoint for the Temporal SDK's own metrics and ours.

The SDK's runtime serves `/metrics` itself (`PrometheusConfig`), with its
`temporal_workflow_task_*`, `temporal_activity_*`, `temporal_request*` … series; our
metrics go through the same runtime's meter, so one scrape target per worker has both.

- Counters are recorded where the event happens, in the activities
  (`activities.metrics`), on the activity's meter (labelled with its namespace, task
  queue and activity type).
- Gauges (sizes and ages: invoices by status, open PO exceptions and disputes, the
  accounting sync lag) are states, read from the database by `poll_gauges`, an asyncio task
  of the worker process, not a workflow. Every worker reports them: query them with
  ``max without (instance)``.

Names follow Prometheus' conventions (`_total` for counters, `_seconds` for durations);
the SDK's keep Temporal's defaults (no suffixes, durations in milliseconds) so Temporal's
published dashboards read them unchanged.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.settings import Settings
from store import ops_gauges
from store.db import SessionFactory, transaction

log = structlog.get_logger()


def worker_runtime(settings: Settings) -> Runtime | None:
    """A runtime whose telemetry serves Prometheus on `worker_metrics_address`, or None
    (the SDK's default runtime, no endpoint). Fails at start if the port is taken: a
    worker that silently lost its metrics would look idle on every dashboard."""
    address = settings.effective_worker_metrics_address
    if address is None:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


class OpsGauges:
    """The gauges of `store.ops_gauges.OpsFigures`, created once on a meter."""

    def __init__(self, meter: MetricMeter) -> None:
        self.invoices = meter.create_gauge(
            "invoiceflow_invoices", "Invoices by status, as the database holds them"
        )
        self.po_exceptions = meter.create_gauge(
            "invoiceflow_po_exceptions_open", "PO exceptions waiting for their owner"
        )
        self.disputes = meter.create_gauge(
            "invoiceflow_disputes_open", "Disputes not resolved yet, by status"
        )
        self.disputes_breached = meter.create_gauge(
            "invoiceflow_disputes_sla_breached", "Open disputes past their level's SLA"
        )
        self.sync_failing = meter.create_gauge(
            "invoiceflow_accounting_sync_failing_invoices",
            "Invoices with a post to accounting failing past the alert delay",
        )
        self.sync_lag = meter.create_gauge_float(
            "invoiceflow_accounting_sync_lag_seconds",
            "How long the oldest post failing past the alert delay has been behind (0: none)",
            "s",
        )
        self.refused = meter.create_gauge(
            "invoiceflow_accounting_refused_documents", "Documents accounting refused"
        )

    def set(self, figures: ops_gauges.OpsFigures) -> None:
        for status, count in figures.invoices_by_status.items():
            self.invoices.set(count, {"status": status})
        for status, count in figures.disputes_by_status.items():
            self.disputes.set(count, {"status": status})
        self.po_exceptions.set(figures.po_exceptions_open)
        self.disputes_breached.set(figures.disputes_sla_breached)
        self.sync_failing.set(figures.accounting_sync_failing_invoices)
        self.sync_lag.set(figures.accounting_sync_lag_s)
        self.refused.set(figures.accounting_refused_documents)


async def read_gauges_once(gauges: OpsGauges, sessions: SessionFactory) -> ops_gauges.OpsFigures:
    async with transaction(sessions, writes=False) as session:
        figures = await ops_gauges.read(session, datetime.now(UTC))
    gauges.set(figures)
    return figures


async def poll_gauges(meter: MetricMeter, sessions: SessionFactory, interval_s: float) -> None:
    """Until cancelled: read the figures every `interval_s`. A failed read (the database
    restarting) is logged and tried again next time; the gauges keep their last values."""
    gauges = OpsGauges(meter)
    while True:
        try:
            await read_gauges_once(gauges, sessions)
        except Exception:
            log.exception("metrics.gauges_not_read")
        await asyncio.sleep(interval_s)
