"""The ops pages' figures as plain data: what each `.json` view answers and what its page
shows, built once from the store's reports so the two never disagree.

Amounts are integer minor units with their currency (as everywhere in the API); times are
RFC 3339 UTC; durations are hours (float) with the formatted text beside them on the page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from core.settings import Settings
from domain.receivables import BUCKET_LABELS, BUCKETS
from store.ops_aging import AgingReport, OpenInvoice
from store.ops_flow import Distribution, FlowReport
from store.ops_queues import QueueItem


def temporal_ui_base(settings: Settings) -> str:
    if settings.temporal_ui_url:
        return settings.temporal_ui_url.rstrip("/")
    host = settings.temporal_address.rpartition(":")[0] or "127.0.0.1"
    return f"http://{host}:{settings.temporal_ui_port}"


def workflow_url(settings: Settings, workflow_id: str) -> str:
    namespace = quote(settings.temporal_namespace, safe="")
    workflow = quote(workflow_id, safe="")
    return f"{temporal_ui_base(settings)}/namespaces/{namespace}/workflows/{workflow}"


def invoices_link(as_of: str, **narrow: str | None) -> str:
    query = {"as_of": as_of, **{k: v for k, v in narrow.items() if v}}
    return f"/ops/invoices?{urlencode(query)}"


def aging_view(report: AgingReport) -> dict[str, Any]:
    as_of = report.as_of.isoformat()
    return {
        "as_of": as_of,
        "buckets": [{"key": b, "label": BUCKET_LABELS[b]} for b in BUCKETS],
        "bucket_basis": "days past the due date",
        "dso_formula": (
            f"open balance / amount invoiced in the {report.dso_window_days} days to the"
            f" as-of date × {report.dso_window_days}, per currency"
        ),
        "rows": [
            {
                "customer_id": r.customer_id,
                "customer_name": r.customer_name,
                "currency": r.currency,
                "buckets_minor": r.buckets,
                "total_minor": r.total_minor,
                "invoices": r.invoices,
                "links": {
                    "all": invoices_link(as_of, customer=r.customer_id, currency=r.currency),
                    **{
                        b: invoices_link(
                            as_of, customer=r.customer_id, currency=r.currency, bucket=b
                        )
                        for b in BUCKETS
                    },
                },
            }
            for r in report.rows
        ],
        "totals": [
            {
                "currency": t.currency,
                "buckets_minor": t.buckets,
                "total_minor": t.total_minor,
                "invoices": t.invoices,
                "overdue_minor": t.total_minor - t.buckets["current"],
                "invoiced_in_window_minor": t.invoiced_in_window_minor,
                "dso_days": None if t.dso_days is None else float(t.dso_days),
                "links": {b: invoices_link(as_of, currency=t.currency, bucket=b) for b in BUCKETS},
            }
            for t in report.totals
        ],
        "dso_window_days": report.dso_window_days,
    }


def invoice_view(i: OpenInvoice, settings: Settings) -> dict[str, Any]:
    return {
        "invoice_id": i.invoice_id,
        "number": i.number,
        "customer_id": i.customer_id,
        "customer_name": i.customer_name,
        "status": i.status,
        "currency": i.currency,
        "issue_date": i.issue_date.isoformat() if i.issue_date else None,
        "due_date": i.due_date.isoformat() if i.due_date else None,
        "days_past_due": i.days_past_due,
        "bucket": i.bucket,
        "total_minor": i.total_minor,
        "balance_minor": i.balance_minor,
        "workflow_url": workflow_url(settings, f"invoice-{i.invoice_id}"),
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def queue_view(item: QueueItem, settings: Settings) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "case_id": item.case_id,
        "reference": item.reference,
        "invoice_id": item.invoice_id,
        "invoice_number": item.invoice_number,
        "customer_name": item.customer_name,
        "owner": item.owner,
        "reasons": item.reasons,
        "level": item.level,
        "status": item.status,
        "opened_at": _iso(item.opened_at),
        "age_days": item.age_days,
        "sla_due_at": _iso(item.sla_due_at),
        "breached": item.breached,
        "amount_minor": item.amount_minor,
        "currency": item.currency,
        "case_url": f"/ops/cases/{item.kind}s/{item.case_id}",
        "workflow_id": item.workflow_id,
        "workflow_url": workflow_url(settings, item.workflow_id),
    }


def _by(items: list[QueueItem], field: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        keys = item.reasons if field == "reasons" else [str(getattr(item, field))]
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def queues_view(
    exceptions: list[QueueItem], disputes: list[QueueItem], settings: Settings, now: datetime
) -> dict[str, Any]:
    def queue(items: list[QueueItem]) -> dict[str, Any]:
        return {
            "open": len(items),
            "breached": sum(1 for i in items if i.breached),
            "by_owner": _by(items, "owner"),
            "by_reason": _by(items, "reasons"),
            "by_level": _by(items, "level"),
            "cases": [queue_view(i, settings) for i in items],
        }

    return {"now": now.isoformat(), "exceptions": queue(exceptions), "disputes": queue(disputes)}


def _distribution(d: Distribution) -> dict[str, Any]:
    return {
        "count": d.count,
        "median_hours": d.median_hours,
        "p90_hours": d.p90_hours,
        "hours": sorted(d.hours),
    }


def flow_view(report: FlowReport) -> dict[str, Any]:
    resolved = report.disputes_resolved
    return {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "percentile_method": "nearest rank",
        "generation_to_issue": _distribution(report.generation_to_issue),
        "issue_to_paid": _distribution(report.issue_to_paid),
        "dispute_resolution": _distribution(report.dispute_resolution),
        "disputes_resolved": resolved,
        "resolved_by_level": [
            {"level": level, "count": n, "share": round(n / resolved, 4)}
            for level, n in report.resolved_by_level.items()
        ],
        "failures_by_day": [
            {
                "day": d.day.isoformat(),
                "delivery": d.delivery,
                "delivery_total": d.delivery_total,
                "accounting_gave_up": d.accounting_gave_up,
                "accounting_refused": d.accounting_refused,
            }
            for d in report.failures
        ],
    }
