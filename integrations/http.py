"""The one way our clients call a provider: JSON, bearer auth, an Idempotency-Key on POSTs.

It maps every failure to :class:`ProviderError` and never retries (Temporal retries the
activity, with the same idempotency key). The ``httpx.AsyncClient`` comes from the caller
so the worker can share a connection pool and set timeouts in one place;
:func:`provider_client` builds the one the worker and the sandbox use.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import aiohttp
import httpx
import structlog
from httpx_aiohttp import AiohttpTransport

from integrations.errors import ProviderError

log = structlog.get_logger()

_DETAIL_LIMIT = 500

# As many connections as the worker has activity slots. Idle ones are dropped after 4 s,
# before a server with a 5 s keep-alive (uvicorn's default) drops them under a request.
PROVIDER_LIMITS = httpx.Limits(max_connections=100, keepalive_expiry=4.0)


class _ProviderTransport(AiohttpTransport):
    """httpx-aiohttp maps aiohttp's common errors to httpx's (a refused connection is a
    ``ConnectError``, a read past the timeout a ``ReadTimeout``); this maps the rest (a
    malformed response, say), so that callers catch httpx's exceptions only."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            # the library files a hang-up under connection errors, hence a "timeout";
            # httpx's own transport calls it what it is
            if isinstance(exc.__cause__, aiohttp.ServerDisconnectedError):
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response"
                ) from exc.__cause__
            raise
        except aiohttp.ClientError as exc:
            raise httpx.TransportError(f"{type(exc).__name__}: {exc}") from exc


def provider_client(timeout_s: float) -> httpx.AsyncClient:
    """httpx's API on aiohttp's transport, for calls to the providers.

    httpx's own transport (httpcore, h11, anyio) cost 0.8 ms of CPU per request with 20
    or more requests in flight, as in a busy worker, and 0.5 ms one at a time; on
    aiohttp's C parser the same request costs 0.2 and 0.3 ms (``make bench-http``).
    Timeouts, status codes and httpx's exceptions stay as they were.
    """
    return httpx.AsyncClient(
        transport=_ProviderTransport(limits=PROVIDER_LIMITS), timeout=timeout_s
    )


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
    response = await _send(provider, idempotency_key, http.post(url, json=body, headers=headers))
    data = _json(provider, response)
    if not isinstance(data, dict):
        raise ProviderError(
            provider, response.status_code, "response is not a JSON object", retryable=True
        )
    if response.headers.get("Idempotent-Replayed") == "true":
        log.info(
            "integrations.idempotent_replay", provider=provider, idempotency_key=idempotency_key
        )
    return data


async def get_json(
    http: httpx.AsyncClient,
    *,
    provider: str,
    url: str,
    api_key: str,
    params: dict[str, str] | None = None,
) -> Any:
    """GET and return the JSON answered (an object or a list), or raise ProviderError."""
    headers = {"Authorization": f"Bearer {api_key}"}
    response = await _send(provider, None, http.get(url, params=params, headers=headers))
    return _json(provider, response)


async def _send(
    provider: str, idempotency_key: str | None, sending: Awaitable[httpx.Response]
) -> httpx.Response:
    """Await the request; a failure or a non-2xx answer becomes a ProviderError."""
    try:
        response = await sending
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
    return response


def _json(provider: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        # A 2xx that is not JSON is a proxy or gateway talking, not the provider.
        raise ProviderError(
            provider, response.status_code, "response is not JSON", retryable=True
        ) from exc


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
