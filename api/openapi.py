"""The OpenAPI document as an upstream developer reads it, and the docs pages served offline.

- Swagger UI and ReDoc load their script and style from the app itself (the assets ship in
  ``fastapi-offline``), so ``/docs`` works on a machine without internet.
- The API key is declared once as two security schemes (bearer and ``X-API-Key``); an
  operation that needs it says so, and only those.
- Every error an operation can answer is documented as ``application/problem+json`` with
  the problem model: the statuses that follow from what the operation depends on (401 for
  the key, 422 for its input, 409 and 422 for ``Idempotency-Key``, 503 for Temporal, 500
  for anything) plus those a route declares with :func:`problems`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from api.errors import PROBLEM_JSON

DOCS_ASSETS = "/docs-assets"
_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"

# what each status means for any operation, unless the route says more
_DESCRIPTIONS = {
    400: "Bad request",
    401: "No API key, or an unknown or revoked one (`unauthorized`, `invalid_api_key`)",
    403: "Forbidden",
    404: "No such resource (`not_found`)",
    409: "Conflicts with the resource's state, or an `Idempotency-Key` still in progress"
    " (`idempotency_key_in_progress`, with `Retry-After`)",
    410: "Gone",
    422: "Invalid input (`validation_failed`, `malformed_json`, or a business rule's code)",
    500: "Unexpected error; the request changed nothing (`internal_error`)",
    502: "A provider refused the call (`provider_refused`, or the operation's own code)",
    503: "Temporal is away (`temporal_unavailable`); retry after `Retry-After` seconds",
}

TAGS = [
    {"name": "customers and contracts", "description": "Master data kept by upstream apps."},
    {
        "name": "purchase orders",
        "description": "Customers' POs, their amendments and delivery records, which"
        " invoices are matched against.",
    },
    {"name": "invoices", "description": "Start invoice processes, read and act on them."},
    {"name": "billing runs", "description": "Billable entries and periodic billing runs."},
    {"name": "approvals", "description": "Approval rules, approvers, groups, delegations."},
    {
        "name": "exceptions",
        "description": "The PO exception queue: invoices that do not match their purchase"
        " order, waiting for a person; read them and resolve them.",
    },
    {
        "name": "disputes",
        "description": "Customers' disputes of invoices: open them, add evidence, act on"
        " them as their owner, read them with their timeline and evidence.",
    },
    {"name": "reports", "description": "Figures over a period (disputes)."},
    {"name": "ops", "description": "Health of the API and its connection to Temporal."},
    {
        "name": "approval links",
        "description": "Pages an approver opens from the signed link in an e-mail. Not for"
        " upstream apps: the token in the path is the credential.",
    },
    {
        "name": "provider webhooks",
        "description": "Called by the payment provider, signed with its webhook secret. Not"
        " for upstream apps.",
    },
]


class ProblemDetail(BaseModel):
    """An error (RFC 9457); `code` is stable for machines."""

    type: str = Field(examples=["https://invoiceflow.dev/problems/not_found"])
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="for validation_failed: one entry per invalid field"
    )


def problems(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the problem statuses it answers beyond the automatic ones;
    ``described`` overrides a description (``problems(404, s409="already decided")``)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {"description": _DESCRIPTIONS.get(status, "Error")}
    for key, description in described.items():
        out[int(key.lstrip("s"))] = {"description": description}
    return out


class LinkAnswer(BaseModel):
    """What an approval link answers when asked for JSON (`Accept: application/json`)."""

    code: str = Field(
        description="applied, level_complete, chain_complete, rejected,"
        " changes_requested, or the refusal's code"
    )
    message: str
    invoice_status: str | None = None


def _link_answer(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "text/html": {"schema": {"type": "string"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/LinkAnswer"}},
        },
    }


# The approval link pages answer a person (HTML) or, asked for JSON, a LinkAnswer
LINK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _link_answer("The confirmation page, or the decision's outcome"),
    400: _link_answer("The link is not valid (`invalid`)"),
    403: _link_answer("The link belongs to another approver (`not_your_approval`)"),
    404: _link_answer("The invoice no longer exists (`not_found`)"),
    409: _link_answer("Already decided, or the invoice changed (`already_decided`, …)"),
    410: _link_answer("The link has expired (`expired`)"),
    422: _link_answer("No valid decision, or a reject without a reason"),
    503: _link_answer("Temporal is away: nothing was decided (`temporal_unavailable`)"),
}

DECISION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The approver's decision: the page's form, or the same fields as JSON."
        " `reason` is required for reject and request_changes.",
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    "required": ["decision"],
                    "properties": {
                        "decision": {
                            "type": "string",
                            "enum": ["approve", "reject", "request_changes"],
                        },
                        "reason": {"type": "string", "maxLength": 2000},
                    },
                }
            }
            for media in ("application/x-www-form-urlencoded", "application/json")
        },
    }
}


def _calls(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _automatic_statuses(route: APIRoute) -> set[int]:
    from api import deps  # deps imports errors; import here to keep the module order simple

    statuses = {500}
    names = {getattr(d.call, "__name__", "") for d in _calls(route.dependant) if d.call}
    params = [
        p.alias
        for d in _calls(route.dependant)
        for p in (*d.query_params, *d.path_params, *d.header_params, *d.body_params)
    ]
    if deps._api_key.__name__ in names:
        statuses.add(401)
    if deps._temporal.__name__ in names:
        statuses.add(503)
    if params or route.body_field is not None:
        statuses.add(422)
    if "Idempotency-Key" in params:
        statuses |= {409, 422}
    return statuses


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}}


def install_openapi(app: FastAPI) -> None:
    """Serve the docs offline and post-process the generated document (see module doc)."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_ASSETS_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas["ProblemDetail"] = ProblemDetail.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        schemas["LinkAnswer"] = LinkAnswer.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            path = schema["paths"].get(context.path_format or route.path_format, {})
            for method in route.methods or ():
                operation = path.get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                statuses = _automatic_statuses(route)
                if "{" in route.path_format:
                    statuses.add(404)  # an id in the path that names nothing
                for status in statuses:
                    responses.setdefault(str(status), {"description": _DESCRIPTIONS[status]})
                if responses.get("422", {}).get("description") == "Validation Error":
                    responses["422"]["description"] = _DESCRIPTIONS[422]
                if "approval links" in route.tags:
                    continue  # pages for a person, documented by LINK_RESPONSES
                for status, response in responses.items():
                    if status.isdigit() and int(status) >= 400:
                        response["content"] = _problem_content()
                        if int(status) in (409, 503):
                            response.setdefault(
                                "headers",
                                {
                                    "Retry-After": {
                                        "description": "seconds to wait before retrying",
                                        "schema": {"type": "integer"},
                                    }
                                },
                            )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
