"""GET /metrics: requests by route template and status, latency histograms, and never a
link token in a label."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from temporalio.client import Client

from tests.support.stack import running_stack

TOKEN = "eyJ0YXNr.Z2Nlc3M.sEcReTtOkEn"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_requests_are_counted_by_route_template_and_status(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(temporal, sqlite_url, run_worker=False) as stack:
        created = await stack.api.post("/customers", json={"name": "Acme", "email": "a@acme.test"})
        assert created.status_code == 201
        customer_id = created.json()["id"]
        assert (await stack.api.get(f"/customers/{customer_id}")).status_code == 200
        await stack.api.get(f"/approvals/{TOKEN}")
        await stack.api.get(f"/portal/invoices/inv_x?token={TOKEN}")
        assert (await stack.api.get("/no/such/path")).status_code == 404
        await stack.api.get("/healthz")

        async with httpx.AsyncClient(base_url=stack.api_url) as anonymous:
            response = await anonymous.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        found = samples(text)

        requests = "invoiceflow_http_requests_total"
        assert value(found, requests, method="POST", route="/customers", status="201") == 1
        assert (
            value(found, requests, method="GET", route="/customers/{customer_id}", status="200")
            == 1
        )
        assert value(found, requests, method="GET", route="unmatched", status="404") == 1
        approvals = [
            labels
            for (name, labels) in found
            if name == requests and ("route", "/approvals/{token}") in labels
        ]
        assert approvals, "the approval page is counted under its template"
        # the token is in no label, and neither is the id of a customer
        assert "sEcReTtOkEn" not in text and customer_id not in text
        # probes and the scrape itself are not requests of the API's users
        assert "/healthz" not in text and '"/metrics"' not in text

        latency = "invoiceflow_http_request_duration_seconds"
        assert value(found, f"{latency}_count", method="POST", route="/customers") == 1
        assert value(found, f"{latency}_bucket", method="POST", route="/customers", le="+Inf") == 1

        schema = (await stack.api.get("/openapi.json")).json()
        assert "/metrics" not in schema["paths"]


async def test_a_metrics_token_closes_the_endpoint_to_everyone_else(
    temporal: Client, sqlite_url: str
) -> None:
    async with running_stack(
        temporal, sqlite_url, run_worker=False, metrics_token=SecretStr("scrape-secret")
    ) as stack:
        async with httpx.AsyncClient(base_url=stack.api_url) as anonymous:
            assert (await anonymous.get("/metrics")).status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert (await anonymous.get("/metrics", headers=wrong)).status_code == 401
            right = {"Authorization": "Bearer scrape-secret"}
            response = await anonymous.get("/metrics", headers=right)
        assert response.status_code == 200
        assert "invoiceflow_http_requests" in response.text
