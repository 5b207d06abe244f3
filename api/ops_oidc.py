"""Operators' sign-in through an OpenID Connect provider: the client side of the code flow.

Authlib's Starlette client (httpx underneath) speaks the protocol: discovery from
``{issuer}/.well-known/openid-configuration`` (kept, like the provider's JWKS, for the
app's life; the JWKS is fetched again once for an unknown key id, after a rotation), the
authorization URL with state, nonce and a PKCE S256 challenge, the code exchange at the
token endpoint (client_secret_basic), and the ID token: its signature against the JWKS
(joserfc), then iss (the configured issuer), aud (our client id), exp, iat, nonce and
at_hash. Authlib would keep state in Starlette's session; it travels instead in the ops
pages' own signed cookie (`api.operator_session.set_oidc_flow`), so nothing else signs.

What goes wrong on the way becomes a `SignInFailed` carrying the status and the words of
the page the operator sees. Nothing is written: the routes set a session only for an
`Identity` whose verified e-mail is an active operator's.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from fastapi import Request
from joserfc.errors import JoseError

from core.settings import Settings

# Authlib 1.9 prefers the httpx2 package and warns once when it falls back to httpx, which
# it supports; the project's HTTP client is httpx, and one client library is enough.
warnings.filterwarnings(
    "ignore", message="The httpx module is deprecated", category=AuthlibDeprecationWarning
)
from authlib.integrations.starlette_client import (  # noqa: E402
    OAuth,
    OAuthError,
    StarletteOAuth2App,
)

CALLBACK_PATH = "/ops/oidc/callback"
# clock skew allowed on exp and iat, in seconds
LEEWAY_S = 60


class SignInFailed(Exception):
    """The sign-in cannot go on: `status`, `title` and `message` are the page's, `reason`
    the log's (never a token, a code or an e-mail address); `command`, one for an admin to
    run, shown under the message."""

    def __init__(
        self, status: int, title: str, message: str, reason: str, command: str | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.title = title
        self.message = message
        self.reason = reason
        self.command = command


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, from a verified ID token."""

    subject: str
    email: str | None
    email_verified: bool | None  # None: the token carries no email_verified claim
    name: str | None


def issuer(settings: Settings) -> str:
    return (settings.ops_oidc_issuer or "").rstrip("/")


def redirect_uri(settings: Settings) -> str:
    """Where the provider sends the browser back: register it with the provider."""
    return settings.public_base_url.rstrip("/") + CALLBACK_PATH


def _client(request: Request) -> StarletteOAuth2App:
    """One client per app: its discovery document and JWKS are kept between sign-ins."""
    found = getattr(request.app.state, "ops_oidc_client", None)
    if found is None:
        settings: Settings = request.app.state.settings
        secret = settings.ops_oidc_client_secret
        oauth = OAuth()
        oauth.register(
            name="ops",
            client_id=settings.ops_oidc_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            server_metadata_url=f"{issuer(settings)}/.well-known/openid-configuration",
            client_kwargs={
                "scope": settings.ops_oidc_scopes,
                "code_challenge_method": "S256",
                "timeout": settings.provider_timeout_s,
            },
        )
        found = request.app.state.ops_oidc_client = oauth.create_client("ops")
    client: StarletteOAuth2App = found
    return client


def _unreachable(settings: Settings, reason: str) -> SignInFailed:
    return SignInFailed(
        502,
        "The sign-in provider is not answering",
        f"{settings.ops_oidc_display_name} could not be reached, or its answer made no"
        " sense. Nobody was signed in. Try again in a few minutes, or sign in with your"
        " password.",
        reason,
    )


async def _metadata(client: StarletteOAuth2App, settings: Settings) -> dict[str, Any]:
    """The discovery document, which must name the configured issuer (OIDC Discovery 4.3)."""
    try:
        metadata: dict[str, Any] = await client.load_server_metadata()
    except (httpx.HTTPError, ValueError, TypeError) as exc:
        raise _unreachable(settings, f"discovery: {type(exc).__name__}") from exc
    if str(metadata.get("issuer", "")).rstrip("/") != issuer(settings):
        client.server_metadata.clear()  # read it again next time, it may be fixed by then
        raise _unreachable(settings, "discovery: another issuer")
    return metadata


async def begin(request: Request, nxt: str) -> tuple[str, dict[str, str]]:
    """The provider's authorization URL, and the flow to keep until its callback."""
    settings: Settings = request.app.state.settings
    client = _client(request)
    await _metadata(client, settings)
    try:
        found = await client.create_authorization_url(redirect_uri(settings))
    except (httpx.HTTPError, RuntimeError) as exc:  # no authorization_endpoint
        raise _unreachable(settings, f"authorize: {type(exc).__name__}") from exc
    flow = {
        "state": found["state"],
        "nonce": found["nonce"],
        "verifier": found["code_verifier"],
        "next": nxt,
    }
    return found["url"], flow


async def finish(request: Request, flow: dict[str, str], code: str) -> Identity:
    """Exchange `code` (with the flow's PKCE verifier) and verify the ID token it brings."""
    settings: Settings = request.app.state.settings
    client = _client(request)
    metadata = await _metadata(client, settings)
    try:
        token = await client.fetch_access_token(
            redirect_uri=redirect_uri(settings), code=code, code_verifier=flow["verifier"]
        )
    except OAuthError as exc:  # the token endpoint's own refusal (invalid_grant, ...)
        raise SignInFailed(
            401,
            "The sign-in was not completed",
            f"{settings.ops_oidc_display_name} did not accept this sign-in"
            f" ({exc.error}). Nobody was signed in. Start again from the sign-in page.",
            f"token: {exc.error}",
        ) from exc
    except (httpx.HTTPError, ValueError, TypeError) as exc:
        raise _unreachable(settings, f"token: {type(exc).__name__}") from exc
    if not isinstance(token, dict) or "id_token" not in token:
        raise _unreachable(settings, "token: no id_token")
    try:
        claims = await client.parse_id_token(
            token,
            nonce=flow["nonce"],
            claims_options={
                "iss": {"essential": True, "value": metadata["issuer"]},
                "aud": {"essential": True, "value": settings.ops_oidc_client_id},
            },
            leeway=LEEWAY_S,
        )
    except JoseError as exc:  # signature, iss, aud, exp, nonce, at_hash, a broken token
        raise SignInFailed(
            401,
            "The sign-in could not be verified",
            f"The answer from {settings.ops_oidc_display_name} did not pass its checks"
            " (signature, issuer, audience, expiry or nonce). Nobody was signed in. Start"
            " again from the sign-in page; if this keeps happening, tell an admin.",
            f"id_token: {exc}",  # e.g. "invalid_claim: Invalid claim: 'aud'"
        ) from exc
    except (httpx.HTTPError, ValueError, TypeError, RuntimeError) as exc:  # the JWKS
        raise _unreachable(settings, f"jwks: {type(exc).__name__}") from exc
    return _identity(claims)


def _identity(claims: dict[str, Any]) -> Identity:
    email = claims.get("email")
    verified = claims.get("email_verified")
    if isinstance(verified, str):  # some providers send "true"/"false"
        verified = verified.strip().lower() == "true"
    name = claims.get("name")
    return Identity(
        subject=str(claims.get("sub", "")),
        email=email if isinstance(email, str) and email.strip() else None,
        email_verified=None if verified is None else verified is True,
        name=name if isinstance(name, str) and name.strip() else None,
    )
