"""The OpenID Connect provider's state: its signing key, the codes it handed out, and the
scenario tests set (who "logs in", whether they say no, how the ID token is spoiled).

One RSA key per sandbox instance (made at the first sign-in, kept in memory: a restarted
sandbox has rotated its key, which clients survive by fetching the JWKS again). Codes
work once, for a minute, for the client, redirect URI and PKCE verifier they were made
for. ID tokens are RS256 JWTs signed with joserfc; a spoiled one is made on purpose, as a
forger or a confused provider would make it, so that a client's checks can be watched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from pydantic import BaseModel

CODE_TTL_S = 60
ID_TOKEN_TTL_S = 300

Spoil = Literal[
    "valid", "bad_signature", "wrong_audience", "wrong_issuer", "wrong_nonce", "expired"
]


class OidcScenario(BaseModel):
    """What the next sign-ins at /oidc/authorize do (POST /_sandbox/oidc sets it whole)."""

    # who "logs in": no login page, /authorize answers at once with a code for them
    email: str | None = "dev@invoiceflow.local"
    # None leaves the claim out of the ID token (as some providers do)
    email_verified: bool | None = True
    name: str | None = "Dev Operator"
    # the ID token's sub; unset: derived from the e-mail address
    subject: str | None = None
    # /authorize sends the browser back with error=access_denied (the person said no)
    deny: bool = False
    # how /token spoils the ID token: signed by a key not in the JWKS (under the JWKS
    # key's kid), for another client, by another issuer, with another nonce, or expired
    id_token: Spoil = "valid"


@dataclass(frozen=True)
class Grant:
    """What a code stands for, until /token redeems it."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    scope: str
    scenario: OidcScenario
    expires_at: float


class TokenRefused(Exception):
    """An RFC 6749 5.2 error answer of the token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _half_hash(value: str) -> str:
    """at_hash for RS256: the left half of the SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


@dataclass
class OidcProvider:
    scenario: OidcScenario = field(default_factory=OidcScenario)
    _codes: dict[str, Grant] = field(default_factory=dict)
    _keys: dict[str, RSAKey] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.scenario = OidcScenario()
            self._codes.clear()

    def _key(self, which: str = "signing") -> RSAKey:
        """The signing key, or the forger's: another key under the signing key's kid."""
        with self._lock:
            return self._key_locked(which)

    def _key_locked(self, which: str) -> RSAKey:
        if which not in self._keys:
            if which == "signing":
                kid = f"sandbox-{secrets.token_hex(4)}"
            else:
                kid = str(self._key_locked("signing").kid)
            parameters: Any = {"kid": kid, "use": "sig", "alg": "RS256"}
            self._keys[which] = RSAKey.generate_key(2048, parameters=parameters)
        return self._keys[which]

    def jwks(self) -> dict[str, Any]:
        """The public half of the signing key, as /oidc/jwks serves it."""
        return dict(KeySet([self._key()]).as_dict(private=False))

    def issue_code(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        code_challenge: str,
        nonce: str | None,
        scope: str,
        now: float | None = None,
    ) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            now = time.time() if now is None else now
            self._codes = {c: g for c, g in self._codes.items() if g.expires_at > now}
            self._codes[code] = Grant(
                client_id=client_id,
                redirect_uri=redirect_uri,
                code_challenge=code_challenge,
                nonce=nonce,
                scope=scope,
                scenario=self.scenario.model_copy(),
                expires_at=now + CODE_TTL_S,
            )
        return code

    def redeem(
        self, *, code: str, client_id: str, redirect_uri: str | None, code_verifier: str | None
    ) -> Grant:
        """The grant `code` stands for, once; refused (invalid_grant) unless every part of
        the token request matches the authorization request."""
        with self._lock:
            grant = self._codes.pop(code, None)  # used up, even by a failed redemption
        if grant is None or grant.expires_at <= time.time():
            raise TokenRefused("invalid_grant", "unknown, used or expired code")
        if grant.client_id != client_id:
            raise TokenRefused("invalid_grant", "the code was issued to another client")
        if redirect_uri != grant.redirect_uri:
            raise TokenRefused("invalid_grant", "redirect_uri differs from the authorization's")
        if not code_verifier or not hmac.compare_digest(s256(code_verifier), grant.code_challenge):
            raise TokenRefused("invalid_grant", "PKCE code_verifier does not match")
        return grant

    def tokens(self, grant: Grant, *, issuer: str, client_id: str) -> dict[str, Any]:
        """The token endpoint's answer: an access token and the ID token, as spoiled as the
        grant's scenario says."""
        scenario = grant.scenario
        spoil = scenario.id_token
        access_token = secrets.token_urlsafe(24)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://impostor.invoiceflow.test" if spoil == "wrong_issuer" else issuer,
            "sub": scenario.subject or f"sandbox|{scenario.email or 'anonymous'}",
            "aud": "another-client" if spoil == "wrong_audience" else client_id,
            "iat": now - 3600 if spoil == "expired" else now,
            "exp": now - 3600 + ID_TOKEN_TTL_S if spoil == "expired" else now + ID_TOKEN_TTL_S,
            "auth_time": now,
            "at_hash": _half_hash(access_token),
        }
        if grant.nonce is not None:
            claims["nonce"] = "not-your-nonce" if spoil == "wrong_nonce" else grant.nonce
        scopes = grant.scope.split()
        if "email" in scopes and scenario.email is not None:
            claims["email"] = scenario.email
            if scenario.email_verified is not None:
                claims["email_verified"] = scenario.email_verified
        if "profile" in scopes and scenario.name is not None:
            claims["name"] = scenario.name
        key = self._key("forger" if spoil == "bad_signature" else "signing")
        id_token = jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ID_TOKEN_TTL_S,
            "scope": grant.scope,
            "id_token": id_token,
        }
