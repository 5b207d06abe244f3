"""``GET /metrics``: the API's requests for Prometheus (prometheus_client).

Requests are counted by method, route *template* and status, with a latency histogram by
method and route. The template (``/approvals/{token}``), never the raw path: approval,
review and portal links carry their token in the path, and a label with it would put
every token into Prometheus (and give it one series per link). A request no route matched
is labelled ``unmatched``, so scanners probing random paths add no series either.

Each app has its own registry (tests build many apps in one process). `/metrics` itself
and `/healthz` (probes every few seconds) are not counted. The endpoint is outside the
OpenAPI document (it is for the scraper, not for upstream apps) and open by default, as
it usually is on the internal network Prometheus scrapes from: it holds route templates
and counts only, no ids or personal data. With `metrics_token` set it wants
``Authorization: Bearer <token>`` (Prometheus: ``authorization: {credentials_file: …}``).
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOT_COUNTED = frozenset({"/metrics", "/healthz"})
# seconds: the API's own work is milliseconds; a workflow start waits on Temporal (up to
# temporal_rpc_timeout_s), a PDF or an export may take seconds
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "invoiceflow_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "invoiceflow_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )


def route_template(app: Any, scope: Scope) -> str:
    """The template of the route that served `scope` (Starlette leaves it in the scope),
    else the first route matching it in full, else ``unmatched``."""
    route = scope.get("route")
    if route is None:
        for candidate in getattr(app, "routes", ()):
            match, _ = candidate.matches(scope)
            if match == Match.FULL:
                route = candidate
                break
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): streamed responses (exports) pass through as
    they are; the time counted is until the response has started."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, routes: Any) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in NOT_COUNTED:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before any response is what the client gets

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = route_template(self.routes, scope)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


def install_metrics(app: FastAPI, token: str | None = None) -> ApiMetrics:
    metrics = ApiMetrics()
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=app.router)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        if token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
