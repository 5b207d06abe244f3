"""The ops dashboards, behind operator sign-in: receivables aging, the open invoices behind
it, the work queues, and flow. Each page has its figures as JSON beside it (the same path
with `.json`), built from the same data (`api.ops_views`).

Every figure comes from the database: the store's records hold everything these pages
show (balances, due dates, owners, SLA times, delivery and sync outcomes), so no page
waits on Temporal; the Temporal UI is one click away from each case.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep
from api.ops_charts import aging_chart, distribution_chart
from api.ops_views import aging_view, flow_view, invoice_view, queues_view
from api.ops_web import OperatorDep, fmt_money, json_view, render, settings_of
from domain.receivables import BUCKET_LABELS, BUCKETS
from store import ops_aging, ops_flow, ops_queues

router = APIRouter(prefix="/ops", tags=["ops"], include_in_schema=False)

# histogram bins (hours) and the unit each distribution is read in
BINS: dict[str, tuple[list[float], float, str]] = {
    "generation_to_issue": ([0, 1, 4, 12, 24, 48, 96], 1, "h"),
    "issue_to_paid": ([d * 24.0 for d in (0, 7, 14, 30, 45, 60, 90)], 24, "d"),
    "dispute_resolution": ([d * 24.0 for d in (0, 1, 3, 5, 10, 20)], 24, "d"),
}
TITLES = {
    "generation_to_issue": "Generation → issue",
    "issue_to_paid": "Issue → paid",
    "dispute_resolution": "Dispute intake → resolution",
}


def _day(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


def _today() -> date:
    return datetime.now(UTC).date()


@router.get("")
async def ops_home(_: OperatorDep) -> Response:
    return RedirectResponse("/ops/aging", status_code=303)


async def _aging(session: SessionDep, as_of: str | None) -> dict[str, Any]:
    report = await ops_aging.aging(session, _day(as_of, _today()))
    await session.commit()
    return aging_view(report)


@router.get("/aging.json")
async def aging_json(_: OperatorDep, session: SessionDep, as_of: str | None = None) -> Response:
    return json_view(await _aging(session, as_of))


@router.get("/aging")
async def aging_page(
    request: Request, operator: OperatorDep, session: SessionDep, as_of: str | None = None
) -> Response:
    view = await _aging(session, as_of)
    charts = {
        t["currency"]: aging_chart(t["buckets_minor"], t["currency"], fmt_money)
        for t in view["totals"]
    }
    return render(
        request, "ops_aging.html", operator=operator, active="aging", view=view, charts=charts
    )


async def _invoices(
    request: Request,
    session: SessionDep,
    as_of: str | None,
    customer: str | None,
    currency: str | None,
    bucket: str | None,
) -> dict[str, Any]:
    day = _day(as_of, _today())
    chosen = bucket if bucket in BUCKETS else None
    found = await ops_aging.open_invoices(
        session, day, customer_id=customer or None, currency=currency or None, bucket=chosen
    )
    await session.commit()
    settings = settings_of(request)
    totals: dict[str, int] = {}
    for invoice in found:
        totals[invoice.currency] = totals.get(invoice.currency, 0) + invoice.balance_minor
    return {
        "as_of": day.isoformat(),
        "filters": {"customer": customer or None, "currency": currency or None, "bucket": chosen},
        "invoices": [invoice_view(i, settings) for i in found],
        "totals_minor": dict(sorted(totals.items())),
    }


@router.get("/invoices.json")
async def invoices_json(
    request: Request,
    _: OperatorDep,
    session: SessionDep,
    as_of: str | None = None,
    customer: str | None = None,
    currency: str | None = None,
    bucket: str | None = None,
) -> Response:
    return json_view(await _invoices(request, session, as_of, customer, currency, bucket))


@router.get("/invoices")
async def invoices_page(
    request: Request,
    operator: OperatorDep,
    session: SessionDep,
    as_of: str | None = None,
    customer: str | None = None,
    currency: str | None = None,
    bucket: str | None = None,
) -> Response:
    view = await _invoices(request, session, as_of, customer, currency, bucket)
    names = {i["customer_name"] for i in view["invoices"]}
    return render(
        request,
        "ops_invoices.html",
        operator=operator,
        active="invoices",
        view=view,
        bucket_labels=BUCKET_LABELS,
        customer_name=next(iter(names)) if customer and len(names) == 1 else None,
    )


async def _queues(request: Request, session: SessionDep) -> dict[str, Any]:
    settings = settings_of(request)
    now = datetime.now(UTC)
    exceptions, disputes = await ops_queues.work_queues(
        session, now, timedelta(hours=settings.exception_expire_after_h)
    )
    await session.commit()
    return queues_view(exceptions, disputes, settings, now)


@router.get("/queues.json")
async def queues_json(request: Request, _: OperatorDep, session: SessionDep) -> Response:
    return json_view(await _queues(request, session))


@router.get("/queues")
async def queues_page(request: Request, operator: OperatorDep, session: SessionDep) -> Response:
    view = await _queues(request, session)
    return render(request, "ops_queues.html", operator=operator, active="queues", view=view)


def _period(start: str | None, end: str | None) -> tuple[date, date]:
    last = _day(end, _today())
    first = _day(start, last - timedelta(days=29))
    return (first, last) if first <= last else (last, first)


async def _flow(session: SessionDep, start: str | None, end: str | None) -> dict[str, Any]:
    first, last = _period(start, end)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    until = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    report = await ops_flow.flow(session, since, until)
    await session.commit()
    view = flow_view(report)
    view["period"] = {"first_day": first.isoformat(), "last_day": last.isoformat()}
    return view


@router.get("/flow.json")
async def flow_json(
    _: OperatorDep, session: SessionDep, start: str | None = None, end: str | None = None
) -> Response:
    return json_view(await _flow(session, start, end))


@router.get("/flow")
async def flow_page(
    request: Request,
    operator: OperatorDep,
    session: SessionDep,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    view = await _flow(session, start, end)
    charts = {
        name: distribution_chart(view[name]["hours"], edges, unit_hours, unit, TITLES[name])
        for name, (edges, unit_hours, unit) in BINS.items()
    }
    return render(
        request,
        "ops_flow.html",
        operator=operator,
        active="flow",
        view=view,
        charts=charts,
        titles=TITLES,
    )
