"""One error base class with an HTTP status; every error leaves as application/problem+json.

RFC 9457 problem documents: ``type`` names the problem, ``title`` says it in words,
``detail`` says what was wrong with this request, ``code`` is stable for machines.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

log = structlog.get_logger()

PROBLEM_JSON = "application/problem+json"

# How long a request waits for a workflow to take an update (an approver's click, a
# correction): no worker that long is an outage, answered 503, not a hung request.
UPDATE_TIMEOUT = timedelta(seconds=15)

# Temporal's answers that mean "not now" (down, overloaded, no worker answered a query in
# time): a 503 the client can retry, not a 500
TEMPORAL_AWAY = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.CANCELLED,
    }
)


class ApiError(Exception):
    status: int = 400
    title: str = "Bad request"
    code: str = "bad_request"
    # seconds, sent as Retry-After: an answer the client should simply repeat later
    retry_after: int | None = None

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        retry_after: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if retry_after is not None:
            self.retry_after = retry_after
        self.extra = extra


class Unauthorized(ApiError):
    status, title, code = 401, "Unauthorized", "unauthorized"


class NotFoundError(ApiError):
    status, title, code = 404, "Not found", "not_found"


class Conflict(ApiError):
    status, title, code = 409, "Conflict", "conflict"


class Unprocessable(ApiError):
    status, title, code = 422, "Unprocessable request", "unprocessable"


class ServiceUnavailable(ApiError):
    status, title, code = 503, "Service unavailable", "service_unavailable"
    retry_after = 5


def problem(
    status: int, title: str, detail: str, *, code: str, instance: str | None, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"https://invoiceflow.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **({"instance": instance} if instance else {}),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, err: ApiError) -> JSONResponse:
        response = problem(
            err.status, err.title, err.detail, code=err.code, instance=request.url.path, **err.extra
        )
        if err.retry_after is not None:
            response.headers["Retry-After"] = str(err.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "location": ".".join(str(p) for p in e.get("loc", ())),
                "message": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in err.errors()
        ]
        malformed = any(e["type"] == "json_invalid" for e in errors)
        detail = (
            "the request body is not valid JSON"
            if malformed
            else "; ".join(f"{e['location']}: {e['message']}" for e in errors)
        )
        return problem(
            422,
            "Malformed JSON" if malformed else "Invalid request",
            detail,
            code="malformed_json" if malformed else "validation_failed",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code == 400 and err.detail == "There was an error parsing the body":
            # a body FastAPI cannot decode at all: the same answer as a malformed JSON body
            return problem(
                422,
                "Malformed JSON",
                "the request body could not be read (not JSON, or not UTF-8)",
                code="malformed_json",
                instance=request.url.path,
            )
        return problem(
            err.status_code,
            str(err.detail) if err.status_code < 500 else "Server error",
            str(err.detail),
            code=f"http_{err.status_code}",
            instance=request.url.path,
        )

    @app.exception_handler(RPCError)
    async def _temporal(request: Request, err: RPCError) -> JSONResponse:
        if err.status not in TEMPORAL_AWAY:
            return await _unexpected(request, err)
        log.warning("api.temporal_unavailable", path=request.url.path, status=err.status.name)
        away = ServiceUnavailable(
            "Temporal did not answer in time; try again shortly", code="temporal_unavailable"
        )
        return await _api_error(request, away)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("api.unhandled_error", path=request.url.path)
        return problem(
            500,
            "Server error",
            "an unexpected error occurred; nothing was changed by this request",
            code="internal_error",
            instance=request.url.path,
        )
