"""The one way our clients POST to a provider: JSON, bearer auth, Idempotency-Key.

It maps every failure to :class:`ProviderError` and never retries (Temporal retries the
activity, with the same idempotency key). The ``httpx.AsyncClient`` comes from the caller
so the worker can share a connection pool and set timeouts in one place.
"""

from __future__ import annotations

from typing import Any

import httpx
import structlog

from integrations.errors import ProviderError

log = structlog.get_logger()

_DETAIL_LIMIT = 500


async def post_json(
    http: httpx.AsyncClient,
    *,
    provider: str,
    url: str,
    api_key: str,
    idempotency_key: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    """POST `body` and return the JSON object answered, or raise ProviderError."""
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": idempotency_key}
    try:
        response = await http.post(url, json=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise ProviderError(provider, None, f"timeout: {exc!r}", retryable=True) from exc
    except httpx.TransportError as exc:
        raise ProviderError(provider, None, f"transport: {exc!r}", retryable=True) from exc
    if not response.is_success:
        error = ProviderError.from_status(provider, response.status_code, _detail(response))
        log.warning(
            "integrations.provider_error",
            provider=provider,
            status=response.status_code,
            retryable=error.retryable,
            idempotency_key=idempotency_key,
        )
        raise error
    try:
        data = response.json()
    except ValueError as exc:
        # A 2xx that is not JSON is a proxy or gateway talking, not the provider.
        raise ProviderError(
            provider, response.status_code, "response is not JSON", retryable=True
        ) from exc
    if not isinstance(data, dict):
        raise ProviderError(
            provider, response.status_code, "response is not a JSON object", retryable=True
        )
    if response.headers.get("Idempotent-Replayed") == "true":
        log.info(
            "integrations.idempotent_replay", provider=provider, idempotency_key=idempotency_key
        )
    return data


def _detail(response: httpx.Response) -> str:
    """A short reason from a problem+json body, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:_DETAIL_LIMIT]
    if isinstance(body, dict):
        for field in ("detail", "title", "message", "error"):
            if isinstance(body.get(field), str):
                return body[field][:_DETAIL_LIMIT]
    return response.text[:_DETAIL_LIMIT]
