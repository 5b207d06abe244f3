"""Every dashboard figure against the same figure computed here, directly from the known
data set of tests/support/ops_data.py (seeded through the store's tables), on SQLite and
PostgreSQL: aging buckets per customer and currency, totals, DSO, the invoices behind a
bucket, the work queues (owner, reason, age, level, SLA, breached first), and flow (cycle
times with median and p90, disputes resolved per level, failures by day)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from tests.support import ops_data as data
from tests.support.operators import OpsApp, add_operator, operator_cookies, ops_app
from tests.support.ops_data import AS_OF, INVOICES, PERIOD, InvoiceSpec, Seeded

OPEN = {"ISSUED", "PARTIALLY_PAID", "OVERDUE", "DISPUTED", "COLLECTIONS"}
SALES = OPEN | {"PAID", "CLOSED"}


@pytest.fixture
async def seeded(db_url: str) -> AsyncIterator[tuple[OpsApp, Seeded, datetime]]:
    async with ops_app(db_url) as ops:
        now = datetime.now(UTC)
        seeded = await data.seed(ops.sessions, now)
        row = await add_operator(ops.sessions)
        for name, value in operator_cookies(ops.settings, row).items():
            ops.client.cookies.set(name, value)
        yield ops, seeded, now


def balance(s: InvoiceSpec) -> int:
    return s.total - s.paid - s.credited - s.written_off - s.credit_applied + s.carried


def bucket(s: InvoiceSpec) -> str:
    assert s.due is not None
    late = (AS_OF - s.due).days
    for limit, name in ((0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90")):
        if late <= limit:
            return name
    return "over-90"


def open_specs() -> list[InvoiceSpec]:
    return [
        s
        for s in INVOICES
        if s.status in OPEN and not s.voided and s.issue <= AS_OF and balance(s) > 0
    ]


async def get(ops: OpsApp, path: str) -> Any:
    response = await ops.client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


async def test_aging_buckets_totals_and_dso_are_the_data_sets(seeded: Any) -> None:
    ops, _, _ = seeded
    view = await get(ops, f"/ops/aging.json?as_of={AS_OF}")
    expected: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for s in open_specs():
        expected[(data.CUSTOMERS[s.customer][0], s.currency)][bucket(s)] += balance(s)
    got = {
        (r["customer_name"], r["currency"]): {k: v for k, v in r["buckets_minor"].items() if v}
        for r in view["rows"]
    }
    assert got == {key: dict(counts) for key, counts in expected.items()}
    for r in view["rows"]:
        assert r["total_minor"] == sum(r["buckets_minor"].values())
        specs = [s for s in open_specs() if data.CUSTOMERS[s.customer][0] == r["customer_name"]]
        assert r["invoices"] == len(specs)

    window_start = AS_OF - timedelta(days=90)
    for total in view["totals"]:
        currency = total["currency"]
        mine = [s for s in open_specs() if s.currency == currency]
        buckets = Counter[str]()
        for s in mine:
            buckets[bucket(s)] += balance(s)
        assert {k: v for k, v in total["buckets_minor"].items() if v} == dict(buckets)
        assert total["total_minor"] == sum(balance(s) for s in mine)
        assert total["overdue_minor"] == total["total_minor"] - buckets["current"]
        sales = sum(
            s.total
            for s in INVOICES
            if s.currency == currency and s.status in SALES and window_start < s.issue <= AS_OF
        )
        assert total["invoiced_in_window_minor"] == sales
        dso = (Decimal(total["total_minor"]) / sales * 90).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_EVEN
        )
        assert Decimal(str(total["dso_days"])) == dso
    assert [t["currency"] for t in view["totals"]] == ["EUR", "GBP"]
    # and by hand, for the reader: GBP current is N1 and C3 (due today), EUR over 90 is F2
    gbp = next(t for t in view["totals"] if t["currency"] == "GBP")
    eur = next(t for t in view["totals"] if t["currency"] == "EUR")
    assert gbp["buckets_minor"]["current"] == 120_000 + 10_000
    assert gbp["buckets_minor"]["31-60"] == 50_000  # N3: 60 days is still 31-60
    assert eur["buckets_minor"] == {
        "current": 400_000, "1-30": 0, "31-60": 0, "61-90": 0, "over-90": 150_000,
    }  # fmt: skip


async def test_the_aging_page_shows_the_figures_and_clicks_through_to_the_invoices(
    seeded: Any,
) -> None:
    ops, seeded_data, _ = seeded
    page = await ops.client.get(f"/ops/aging?as_of={AS_OF}")
    assert page.status_code == 200
    html = page.text
    gbp_open = sum(balance(s) for s in open_specs() if s.currency == "GBP")
    assert f"£{gbp_open / 100:,.2f}" in html
    assert (
        html.count("<svg") == 2 and "http" not in html.split("<svg", 1)[1].split("</svg>")[0][40:]
    )
    northwind = seeded_data.customer_ids["N"]
    link = f"/ops/invoices?as_of={AS_OF}&amp;customer={northwind}&amp;currency=GBP&amp;bucket=1-30"
    assert link in html

    listed = await get(
        ops, link.replace("&amp;", "&").replace("/ops/invoices", "/ops/invoices.json")
    )
    expected = [s for s in open_specs() if s.customer == "N" and bucket(s) == "1-30"]
    assert [i["number"] for i in listed["invoices"]] == [
        seeded_data.numbers[s.key] for s in expected
    ]
    assert [i["balance_minor"] for i in listed["invoices"]] == [balance(s) for s in expected]
    everything = await get(ops, f"/ops/invoices.json?as_of={AS_OF}")
    assert sorted(i["number"] for i in everything["invoices"]) == sorted(
        seeded_data.numbers[s.key] for s in open_specs()
    )
    for i in everything["invoices"]:
        assert i["workflow_url"].startswith(
            "http://127.0.0.1:8233/namespaces/default/workflows/invoice-"
        )
    page = await ops.client.get(link.replace("&amp;", "&"))
    assert all(seeded_data.numbers[s.key] in page.text for s in expected)


def _queue_expectation(specs: list[Any], now: datetime, expire: timedelta) -> list[dict[str, Any]]:
    rows = []
    for s in specs:
        if s.status in ("resolved",):
            continue
        if hasattr(s, "escalated_at"):  # an exception
            level = 2 if s.escalated_at else 1
            due = s.escalates_at if level == 1 else s.opened + expire
            owner, reasons, breached = s.owner or f"group {s.group}", s.reasons, due < now
        else:
            level, due = s.level, s.sla_due
            owner, reasons = s.owner or f"group {s.group}", [s.reason]
            breached = s.sla_breached or due < now
        rows.append({"key": s.key, "owner": owner, "reasons": reasons, "level": level,
                     "sla_due_at": due, "breached": breached, "opened": s.opened})  # fmt: skip
    return sorted(rows, key=lambda r: (not r["breached"], r["sla_due_at"]))


async def test_the_work_queues_are_the_data_sets_open_cases_breached_first(seeded: Any) -> None:
    ops, seeded_data, now = seeded
    view = await get(ops, "/ops/queues.json")
    expire = timedelta(hours=ops.settings.exception_expire_after_h)
    cases = {
        "exceptions": (data.exceptions_spec(now), seeded_data.exception_ids),
        "disputes": (data.disputes_spec(now), seeded_data.dispute_ids),
    }
    for queue, (specs, ids) in cases.items():
        expected = _queue_expectation(specs, now, expire)
        got = view[queue]["cases"]
        assert [c["case_id"] for c in got] == [ids[e["key"]] for e in expected], queue
        for case, e in zip(got, expected, strict=True):
            assert case["owner"] == e["owner"]
            assert case["reasons"] == e["reasons"]
            assert case["level"] == e["level"]
            assert case["breached"] == e["breached"]
            assert datetime.fromisoformat(case["sla_due_at"]) == e["sla_due_at"]
            age = (now - e["opened"]).total_seconds() / 86400
            assert abs(case["age_days"] - age) <= 0.11
            assert case["workflow_url"].endswith(case["workflow_id"])
        assert view[queue]["open"] == len(expected)
        assert view[queue]["breached"] == sum(e["breached"] for e in expected)
        assert view[queue]["by_owner"] == dict(Counter(e["owner"] for e in expected))
        assert view[queue]["by_level"] == dict(Counter(str(e["level"]) for e in expected))
        assert view[queue]["by_reason"] == dict(Counter(r for e in expected for r in e["reasons"]))
    assert [c["reference"] for c in view["disputes"]["cases"]][:2] == [
        seeded_data.dispute_numbers["DO1"], seeded_data.dispute_numbers["DO3"],
    ]  # fmt: skip
    first = view["disputes"]["cases"][0]
    assert first["workflow_id"] == f"dispute-{seeded_data.dispute_ids['DO1']}"
    page = await ops.client.get(first["case_url"])
    assert page.status_code == 200 and first["reference"] in page.text
    assert first["workflow_url"] in page.text


def nearest_rank(values: list[float], share: float) -> float | None:
    ordered = sorted(values)
    return ordered[math.ceil(share * len(ordered)) - 1] if ordered else None


def hours(since: datetime, until: datetime) -> float:
    return (until - since).total_seconds() / 3600


async def test_flow_is_the_data_sets_cycle_times_levels_and_failures(seeded: Any) -> None:
    ops, _, now = seeded
    start, end = PERIOD

    def within(at: datetime | None) -> bool:
        return at is not None and start <= at < end

    view = await get(ops, "/ops/flow.json?start=2026-11-01&end=2026-11-30")
    to_issue = [s.created_hours_before_delivery for s in INVOICES if within(s.delivered)]
    to_paid = [
        hours(s.delivered, max(p for _, p in s.payments))
        for s in INVOICES
        if s.status in ("PAID", "CLOSED") and balance(s) <= 0 and s.payments and s.delivered
        and within(max(p for _, p in s.payments))
    ]  # fmt: skip
    resolved = [d for d in data.disputes_spec(now) if within(d.resolved)]
    to_resolve = [hours(d.opened, d.resolved) for d in resolved if d.resolved]
    for name, values in (
        ("generation_to_issue", to_issue),
        ("issue_to_paid", to_paid),
        ("dispute_resolution", to_resolve),
    ):
        got = view[name]
        assert got["count"] == len(values), name
        assert got["hours"] == pytest.approx(sorted(values)), name
        assert got["median_hours"] == pytest.approx(nearest_rank(values, 0.5)), name
        assert got["p90_hours"] == pytest.approx(nearest_rank(values, 0.9)), name
    assert view["generation_to_issue"]["median_hours"] == 3  # of 0.5, 2, 3, 5, 26, 49

    levels = Counter(d.resolved_level or d.level for d in resolved)
    assert view["disputes_resolved"] == len(resolved) == 4
    assert view["resolved_by_level"] == [
        {"level": level, "count": n, "share": round(n / len(resolved), 4)}
        for level, n in sorted(levels.items())
    ]

    delivery: dict[str, Counter[str]] = defaultdict(Counter)
    for at, channel, outcome in data.DELIVERY_TRIES:
        if within(at) and outcome in ("refused", "unavailable"):
            delivery[at.date().isoformat()][channel] += 1
    gave_up = Counter(a.date().isoformat() for a in data.SYNC_GAVE_UP if within(a))
    refused = Counter(
        a.date().isoformat() for a, s in data.DOCUMENTS if within(a) and s == "refused"
    )
    days = sorted(set(delivery) | set(gave_up) | set(refused))
    assert view["failures_by_day"] == [
        {
            "day": day,
            "delivery": dict(sorted(delivery[day].items())),
            "delivery_total": sum(delivery[day].values()),
            "accounting_gave_up": gave_up[day],
            "accounting_refused": refused[day],
        }
        for day in days
    ]
    page = await ops.client.get("/ops/flow?start=2026-11-01&end=2026-11-30")
    assert page.status_code == 200 and page.text.count("<svg") == 3
    assert "median 3.0 h" in page.text
