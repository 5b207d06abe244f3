"""What every provider API has in common: bearer auth, injected faults, idempotency, the call log.

Provider routes only describe their effect (a function of a transaction and a validated
body); the gate decides whether the effect runs at all. Order, as a real provider does it:
auth (401), Idempotency-Key present (400), faults (latency, 503, 500), body valid (400/422),
then under one lock: replay or mismatch (422) for a known key, else the effect plus its
stored response in the same transaction. Only successful effects are stored for replay
(as Stripe does): a rejected or failed request may be retried with the same key.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from sandbox.faults import FaultBook
from sandbox.settings import SandboxSettings
from sandbox.state import CallRecord, SandboxStore, Tx, utcnow

log = structlog.get_logger()

M = TypeVar("M", bound=BaseModel)


class ProviderReject(Exception):
    """Raised by an effect to refuse the call; the transaction rolls back."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Effect:
    status: int
    body: dict[str, Any]
    # Runs once the effect is committed, never on a replay (e.g. schedule a webhook).
    after_commit: Callable[[], None] | None = None


@dataclass(frozen=True)
class Outcome:
    status: int
    body: Any
    replayed: bool = False
    effect: bool = False
    note: str | None = None
    after_commit: Callable[[], None] | None = None


def problem(status: int, title: str, detail: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem body."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    return body


def fingerprint(method: str, path: str, payload: Any) -> str:
    """Identifies "the same request" for idempotency: endpoint plus canonical JSON body."""
    canonical = json.dumps([method, path, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_INVALID_JSON = object()


class Gate:
    def __init__(self, settings: SandboxSettings, store: SandboxStore, faults: FaultBook) -> None:
        self.settings = settings
        self.store = store
        self.faults = faults

    async def post(
        self,
        request: Request,
        api: str,
        model: type[M],
        effect: Callable[[Tx, M], Effect],
    ) -> JSONResponse:
        """Handle a mutating provider call end to end."""
        key = request.headers.get("idempotency-key") or None
        payload = _parse_json(await request.body())
        outcome = await self._post_outcome(request, api, key, payload, model, effect)
        logged = payload if payload is not _INVALID_JSON else None
        return self.finish(request, api, key, logged, outcome)

    async def get(self, request: Request, api: str, produce: Callable[[], Any]) -> JSONResponse:
        """Handle a read-only provider call; `produce` may raise ProviderReject (e.g. 404)."""
        outcome = self._auth_failure(request) or await self._fault(api)
        if outcome is None:
            try:
                outcome = Outcome(200, produce())
            except ProviderReject as reject:
                outcome = Outcome(reject.status, problem(reject.status, "Rejected", reject.detail))
        return self.finish(request, api, None, None, outcome)

    def commit(
        self, api: str, key: str, fp: str, parsed: M, effect: Callable[[Tx, M], Effect]
    ) -> Outcome:
        """Replay, refuse, or perform the effect and store its response, atomically."""
        try:
            with self.store.transaction() as tx:
                stored = tx.get_idempotent(api, key)
                if stored is not None:
                    if stored.fingerprint != fp:
                        detail = "Idempotency-Key was already used with a different request"
                        return Outcome(
                            422,
                            problem(422, "Idempotency key reused", detail),
                            note="idempotency_mismatch",
                        )
                    return Outcome(stored.status, stored.body, replayed=True)
                result = effect(tx, parsed)
                tx.put_idempotent(api, key, fp, result.status, result.body)
        except ProviderReject as reject:
            body = problem(reject.status, "Rejected", reject.detail)
            return Outcome(reject.status, body, note="rejected")
        return Outcome(result.status, result.body, effect=True, after_commit=result.after_commit)

    def finish(
        self, request: Request, api: str, key: str | None, payload: Any, outcome: Outcome
    ) -> JSONResponse:
        """Settle the call and render it as the provider's JSON response."""
        self.settle(request, api, key, payload, outcome)
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
        media = "application/problem+json" if outcome.status >= 400 else "application/json"
        return JSONResponse(outcome.body, outcome.status, headers=headers, media_type=media)

    def settle(
        self, request: Request, api: str, key: str | None, payload: Any, outcome: Outcome
    ) -> None:
        """Record the call and run its post-commit work."""
        self.store.record_call(
            CallRecord(
                api=api,
                method=request.method,
                path=request.url.path,
                idempotency_key=key,
                request_body=payload,
                status=outcome.status,
                response_body=outcome.body,
                at=utcnow(),
                replayed=outcome.replayed,
                effect=outcome.effect,
                note=outcome.note,
            )
        )
        log.info(
            "sandbox.provider_call",
            api=api,
            method=request.method,
            path=request.url.path,
            status=outcome.status,
            replayed=outcome.replayed,
            note=outcome.note,
        )
        if outcome.after_commit is not None:
            outcome.after_commit()

    async def _post_outcome(
        self,
        request: Request,
        api: str,
        key: str | None,
        payload: Any,
        model: type[M],
        effect: Callable[[Tx, M], Effect],
    ) -> Outcome:
        if (failure := self._auth_failure(request)) is not None:
            return failure
        if key is None:
            return Outcome(400, problem(400, "Idempotency-Key header required"))
        if (failure := await self._fault(api)) is not None:
            return failure
        if payload is _INVALID_JSON:
            return Outcome(400, problem(400, "Body is not valid JSON"))
        try:
            parsed = model.model_validate(payload)
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            return Outcome(422, problem(422, "Invalid request", detail), note="invalid")
        if self.faults.forgets_keys(api) and self._seen(api, key):
            # a key seen before is new again: the call is stored under a key of its own, so
            # the key's first operation is still what a look-up by it finds
            key = f"{key}#forgotten-{uuid.uuid4().hex[:12]}"
        fp = fingerprint(request.method, request.url.path, payload)
        outcome = self.commit(api, key, fp, parsed, effect)
        if outcome.effect and self.faults.take_fail_after_commit(api):
            body = problem(500, "Injected failure after commit")
            return replace(outcome, status=500, body=body, note="fail_after_commit")
        return outcome

    def _seen(self, api: str, key: str) -> bool:
        with self.store.transaction() as tx:
            return tx.get_idempotent(api, key) is not None

    def _auth_failure(self, request: Request) -> Outcome | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expected = self.settings.api_key.encode()
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected):
            return None
        return Outcome(401, problem(401, "Missing or invalid API key"), note="unauthorized")

    async def _fault(self, api: str) -> Outcome | None:
        decision = self.faults.decide(api)
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.failure == "outage":
            return Outcome(503, problem(503, "Injected outage"), note="outage")
        if decision.failure == "error_rate":
            return Outcome(500, problem(500, "Injected error"), note="error_rate")
        return None


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return _INVALID_JSON
