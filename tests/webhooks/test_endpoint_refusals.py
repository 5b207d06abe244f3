"""Bad subscriptions are refused (422 problem+json) and create nothing."""

from __future__ import annotations

import pytest
from temporalio.client import Client

from tests.support.stack import running_stack

BAD = [
    ({"url": "ftp://example.test/hook", "event_types": ["invoice.paid"]}, "invalid_webhook_url"),
    ({"url": "not a url", "event_types": ["invoice.paid"]}, "invalid_webhook_url"),
    ({"url": "http://example.test/h", "event_types": ["invoice.eaten"]}, "unknown_event_type"),
    ({"url": "http://example.test/h", "event_types": []}, "validation_failed"),
]


@pytest.mark.parametrize(("body", "code"), BAD, ids=[code for _, code in BAD])
async def test_a_bad_subscription_is_422_and_creates_nothing(
    temporal: Client,
    sqlite_url: str,
    body: dict,
    code: str,  # type: ignore[type-arg]
) -> None:
    async with running_stack(temporal, sqlite_url, run_worker=False) as stack:
        refused = await stack.api.post("/webhook-endpoints", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == code
        listed = await stack.api.get("/webhook-endpoints")
        assert listed.json()["items"] == []


async def test_production_takes_https_only(temporal: Client, sqlite_url: str) -> None:
    async with running_stack(temporal, sqlite_url, run_worker=False) as stack:
        stack.settings.environment = "production"  # the app reads this same object
        plain = {"url": "http://example.test/h", "event_types": ["*"]}
        refused = await stack.api.post("/webhook-endpoints", json=plain)
        assert refused.status_code == 422
        assert refused.json()["code"] == "invalid_webhook_url"
        secure = await stack.api.post(
            "/webhook-endpoints", json={**plain, "url": "https://example.test/h"}
        )
        assert secure.status_code == 201, secure.text
