"""The sandbox's OpenID Connect provider: discovery, /authorize straight back with a code
for the scenario's person, /token checking the client, the code, its redirect URI and the
PKCE verifier, an RS256 ID token that verifies against /jwks, and the ways a scenario
spoils it; faults and the call log as for the other providers."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from sandbox.oidc import s256
from sandbox.runner import SandboxHandle
from tests.sandbox.support import set_faults

CALLBACK = "https://ops.test/ops/oidc/callback"
CLIENT = ("invoiceflow-ops", "sandbox-oidc-secret")


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def authorize(http: httpx.AsyncClient, **overrides: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": CLIENT[0],
        "redirect_uri": CALLBACK,
        "scope": "openid email profile",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": challenge("v" * 48),
        "code_challenge_method": "S256",
        **overrides,
    }
    return await http.get("/oidc/authorize", params={k: v for k, v in params.items() if v})


async def code_of(http: httpx.AsyncClient, **overrides: str) -> str:
    answer = await authorize(http, **overrides)
    assert answer.status_code == 302, answer.text
    back = httpx.URL(answer.headers["location"])
    assert back.params["state"] == "st-1"
    return back.params["code"]


async def exchange(
    http: httpx.AsyncClient, code: str, *, auth: tuple[str, str] | None = CLIENT, **form: str
) -> httpx.Response:
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": "v" * 48,
        **form,
    }
    return await http.post("/oidc/token", data=body, auth=auth)


async def claims_of(http: httpx.AsyncClient, id_token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set((await http.get("/oidc/jwks")).json())
    return dict(jwt.decode(id_token, keys, algorithms=["RS256"]).claims)


async def test_discovery_names_the_issuer_and_its_endpoints(
    http: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    document = (await http.get("/oidc/.well-known/openid-configuration")).json()
    issuer = f"{sandbox.http_url}/oidc"
    assert document["issuer"] == issuer
    assert document["authorization_endpoint"] == f"{issuer}/authorize"
    assert document["token_endpoint"] == f"{issuer}/token"
    assert document["jwks_uri"] == f"{issuer}/jwks"
    assert document["code_challenge_methods_supported"] == ["S256"]
    keys = (await http.get("/oidc/jwks")).json()["keys"]
    assert [(k["kty"], k["alg"], k["use"]) for k in keys] == [("RSA", "RS256", "sig")]
    assert "d" not in keys[0]  # the public half only


async def test_a_code_becomes_an_id_token_for_the_scenarios_person_once(
    http: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    await http.post("/_sandbox/oidc", json={"email": "olivia@finance.test", "name": "Olivia"})
    code = await code_of(http)
    answer = await exchange(http, code)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer" and tokens["access_token"]
    claims = await claims_of(http, tokens["id_token"])
    assert claims["iss"] == f"{sandbox.http_url}/oidc"
    assert claims["aud"] == CLIENT[0] and claims["nonce"] == "n-1"
    assert claims["email"] == "olivia@finance.test" and claims["email_verified"] is True
    assert claims["name"] == "Olivia" and claims["exp"] > time.time()
    again = await exchange(http, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    calls = (await http.get("/_sandbox/calls", params={"api": "oidc"})).json()
    token_calls = [c for c in calls if c["path"] == "/oidc/token"]
    assert [c["status"] for c in token_calls] == [200, 400]
    assert "code_verifier" not in token_calls[0]["request_body"]


async def test_client_secret_post_works_too_and_without_email_scope_there_is_no_email(
    http: httpx.AsyncClient,
) -> None:
    code = await code_of(http, scope="openid")
    form = {"client_id": CLIENT[0], "client_secret": CLIENT[1]}
    answer = await exchange(http, code, auth=None, **form)
    assert answer.status_code == 200, answer.text
    claims = await claims_of(http, answer.json()["id_token"])
    assert "email" not in claims and "name" not in claims


@pytest.mark.parametrize(
    ("form", "auth", "status", "error"),
    [
        ({}, ("invoiceflow-ops", "wrong"), 401, "invalid_client"),
        ({}, ("someone-else", CLIENT[1]), 401, "invalid_client"),
        ({"code_verifier": "w" * 48}, CLIENT, 400, "invalid_grant"),
        ({"code_verifier": ""}, CLIENT, 400, "invalid_grant"),
        ({"redirect_uri": "https://evil.test/cb"}, CLIENT, 400, "invalid_grant"),
        ({"grant_type": "password"}, CLIENT, 400, "unsupported_grant_type"),
    ],
)
async def test_the_token_endpoint_checks_client_code_redirect_and_verifier(
    http: httpx.AsyncClient,
    form: dict[str, str],
    auth: tuple[str, str],
    status: int,
    error: str,
) -> None:
    code = await code_of(http)
    answer = await exchange(http, code, auth=auth, **form)
    assert answer.status_code == status and answer.json()["error"] == error
    assert "id_token" not in answer.json()


async def test_authorize_never_redirects_to_an_unknown_client_and_wants_pkce(
    http: httpx.AsyncClient,
) -> None:
    assert (await authorize(http, client_id="someone-else")).status_code == 400
    assert (await authorize(http, redirect_uri="javascript:alert(1)")).status_code == 400
    for overrides in ({"code_challenge": ""}, {"code_challenge_method": "plain"}):
        answer = await authorize(http, **overrides)
        assert answer.status_code == 302
        assert httpx.URL(answer.headers["location"]).params["error"] == "invalid_request"
    no_openid = await authorize(http, scope="email")
    assert httpx.URL(no_openid.headers["location"]).params["error"] == "invalid_scope"


async def test_a_scenario_sets_who_declines_and_a_reset_brings_back_the_dev_operator(
    http: httpx.AsyncClient,
) -> None:
    await http.post("/_sandbox/oidc", json={"deny": True})
    declined = httpx.URL((await authorize(http)).headers["location"])
    assert declined.params["error"] == "access_denied" and declined.params["state"] == "st-1"
    assert "code" not in declined.params
    (await http.post("/_sandbox/reset")).raise_for_status()
    assert (await http.get("/_sandbox/oidc")).json()["email"] == "dev@invoiceflow.local"
    tokens = (await exchange(http, await code_of(http))).json()
    assert (await claims_of(http, tokens["id_token"]))["email"] == "dev@invoiceflow.local"


async def test_spoiled_id_tokens_are_spoiled_the_way_the_scenario_says(
    http: httpx.AsyncClient,
) -> None:
    async def spoiled(how: str) -> str:
        await http.post("/_sandbox/oidc", json={"id_token": how})
        token: str = (await exchange(http, await code_of(http))).json()["id_token"]
        return token

    keys = KeySet.import_key_set((await http.get("/oidc/jwks")).json())
    forged = await spoiled("bad_signature")
    with pytest.raises(BadSignatureError):
        jwt.decode(forged, keys, algorithms=["RS256"])
    assert (await claims_of(http, await spoiled("wrong_audience")))["aud"] == "another-client"
    assert (await claims_of(http, await spoiled("wrong_nonce")))["nonce"] != "n-1"
    assert (await claims_of(http, await spoiled("wrong_issuer")))["iss"].startswith("https://")
    assert (await claims_of(http, await spoiled("expired")))["exp"] < time.time()
    await http.post("/_sandbox/oidc", json={"email_verified": None})
    plain = (await exchange(http, await code_of(http))).json()["id_token"]
    assert "email_verified" not in await claims_of(http, plain)


async def test_an_outage_takes_down_every_endpoint_and_is_logged(
    http: httpx.AsyncClient,
) -> None:
    code = await code_of(http)
    await set_faults(http, api="oidc", outage=True)
    assert (await http.get("/oidc/.well-known/openid-configuration")).status_code == 503
    assert (await authorize(http)).status_code == 503
    assert (await exchange(http, code)).status_code == 503
    await http.delete("/_sandbox/faults")
    assert (await exchange(http, code)).status_code == 200  # the code outlived the outage
    notes = [c["note"] for c in (await http.get("/_sandbox/calls?api=oidc")).json()]
    assert notes.count("outage") == 3


def test_the_pkce_challenge_is_rfc_7636s() -> None:
    # RFC 7636 appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256(verifier) == challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
