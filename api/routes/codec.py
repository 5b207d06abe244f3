"""The codec server: Temporal's remote codec protocol, so operators read clear payloads in
the Temporal UI (and `temporal workflow show --codec-endpoint`) while the history itself
stays encrypted (core/codec.py).

`POST /codec/decode` and `POST /codec/encode` take and answer ``{"payloads": [...]}`` in
the protobuf JSON form (base64 data and metadata values). Who may call them: an operator
signed in to the ops pages (their session cookie; the UI sends it when "Include
cross-origin credentials" is on), or a bearer token from `INVOICEFLOW_CODEC_AUTH_TOKENS`
(the CLI's `--codec-auth`). An upstream app's API key, a portal or approval token, or
nothing at all opens nothing. The browser calls come from the UI's origin, so these two
routes, and only these, answer CORS for the origins in the settings, with credentials.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Literal

import structlog
from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.errors import problem
from api.operator_session import signed_in_operator
from core.codec import EncryptionCodec, PayloadDecryptionError
from core.settings import Settings

log = structlog.get_logger()
router = APIRouter(prefix="/codec", include_in_schema=False)

ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _cors(request: Request, response: Response) -> Response:
    origin = request.headers.get("origin")
    if origin and origin in _settings(request).effective_codec_cors_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
    return response


@router.options("/{operation}")
async def preflight(request: Request, operation: str) -> Response:
    """The browser's preflight: the UI's origin may POST JSON with its namespace header."""
    response = Response(status_code=204)
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = "600"
    return _cors(request, response)


async def _who(request: Request) -> str | None:
    """Who asks: 'operator:<email>', 'token', or None (refused)."""
    operator = await signed_in_operator(request)
    if operator is not None:
        return f"operator:{operator.email}"
    settings = _settings(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token and settings.codec_auth_tokens is not None:
        allowed = settings.codec_auth_tokens.get_secret_value().split(",")
        if any(hmac.compare_digest(token.encode(), t.strip().encode()) for t in allowed if t):
            return "token"
    return None


def _codec(request: Request) -> EncryptionCodec | None:
    settings = _settings(request)
    key_id = settings.effective_codec_key_id
    return EncryptionCodec(settings.codec_key_table, key_id) if key_id else None


@router.post("/decode")
async def decode(request: Request) -> Response:
    return await _transform(request, "decode")


@router.post("/encode")
async def encode(request: Request) -> Response:
    return await _transform(request, "encode")


async def _transform(request: Request, operation: Literal["decode", "encode"]) -> Response:
    who = await _who(request)
    if who is None:
        return _cors(
            request,
            problem(
                401,
                "Unauthorized",
                "the codec server opens payloads for a signed-in operator (the UI with"
                " cross-origin credentials) or a codec token (--codec-auth 'Bearer …')",
                code="codec_unauthorized",
                instance=str(request.url.path),
            ),
        )
    try:
        payloads = json_format.Parse(await request.body(), Payloads()).payloads
    except (json_format.ParseError, UnicodeDecodeError) as err:
        return _cors(
            request,
            problem(
                422,
                "Unprocessable request",
                f'the body is not {{"payloads": [...]}} in protobuf JSON: {err}',
                code="codec_malformed",
                instance=str(request.url.path),
            ),
        )
    codec = _codec(request)
    if codec is None:  # encryption off: payloads are clear already
        result = list(payloads)
    elif operation == "encode":
        result = await codec.encode(payloads)
    else:
        result = _decode_each(codec, payloads)
    log.info(
        "codec.request",
        operation=operation,
        who=who,
        namespace=request.headers.get("x-namespace"),
        payloads=len(result),
    )
    body = json_format.MessageToJson(Payloads(payloads=result))
    return _cors(request, Response(body, media_type="application/json"))


def _decode_each(codec: EncryptionCodec, payloads: Sequence[Payload]) -> list[Payload]:
    """One payload that cannot be opened (a retired key) stays sealed; the rest still
    show, so one old key does not blank an operator's whole history page."""
    opened = []
    for payload in payloads:
        try:
            opened.append(codec.open(payload))
        except PayloadDecryptionError as err:
            log.warning("codec.undecodable", error=str(err))
            opened.append(payload)
    return opened
