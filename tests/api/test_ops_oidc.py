"""Operators sign in through an OpenID Connect provider: the sandbox's, over real HTTP
(discovery, /authorize, the code exchange with PKCE, the JWKS). The provider's verified
e-mail must be an active operator's; everyone and everything else (an unknown or inactive
operator, an unverified address, a state that is not this browser's, a spoiled ID token,
the operator declining, a provider that is down) gets a page that says so and no session.
Without the settings there is no button and no OIDC route; the password works beside it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from api.app import create_app
from api.operator_session import COOKIE_NAME, OIDC_FLOW_COOKIE
from core.settings import Settings
from sandbox.runner import SandboxHandle, running_sandbox
from store import operators
from store.db import create_engine, session_factory, transaction
from tests.sandbox.support import sandbox_settings, set_faults, unused_port
from tests.support.operators import PASSWORD, OpsApp, add_operator, ops_app
from tests.support.servers import bound_socket, serve

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BUTTON = re.compile(r'<a class="button" href="([^"]+)">Sign in with ([^<]+)</a>')
EMAIL = "olivia@finance.test"


@pytest_asyncio.fixture(scope="module")
async def provider_sandbox() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(sandbox_settings()) as handle:
        yield handle


@pytest_asyncio.fixture
async def provider(provider_sandbox: SandboxHandle) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox, as the browser (its /oidc/authorize) and the test (its controls) reach it."""
    async with httpx.AsyncClient(base_url=provider_sandbox.http_url, timeout=10) as client:
        (await client.post("/_sandbox/reset")).raise_for_status()
        await scenario(client)
        yield client


async def scenario(provider: httpx.AsyncClient, **values: Any) -> None:
    body = {"email": EMAIL, "name": "Olivia Park", **values}
    (await provider.post("/_sandbox/oidc", json=body)).raise_for_status()


def oidc_settings(sandbox: SandboxHandle, **overrides: Any) -> dict[str, Any]:
    return {
        "ops_oidc_issuer": f"{sandbox.http_url}/oidc",
        "ops_oidc_client_id": sandbox.settings.oidc_client_id,
        "ops_oidc_client_secret": sandbox.settings.oidc_client_secret,
        "ops_oidc_provider_name": "Sandbox ID",
        **overrides,
    }


@pytest_asyncio.fixture
async def ops(sqlite_url: str, provider_sandbox: SandboxHandle) -> AsyncIterator[OpsApp]:
    """The API in process on https://ops.test (Secure cookies round-trip), OIDC on."""
    settings = oidc_settings(provider_sandbox, public_base_url="https://ops.test")
    async with ops_app(sqlite_url, **settings) as running:
        yield running


async def through_provider(
    ops: OpsApp, provider: httpx.AsyncClient, nxt: str = ""
) -> tuple[httpx.Response, httpx.URL]:
    """Start at the sign-in button, pass the provider, arrive at our callback: the
    callback's answer and the URL the provider sent the browser back to."""
    start = await ops.client.get("/ops/oidc/sign-in", params={"next": nxt} if nxt else None)
    assert start.status_code == 303, start.text
    at_provider = await provider.get(start.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    back = httpx.URL(at_provider.headers["location"])
    assert (back.host, back.path) == ("ops.test", "/ops/oidc/callback")
    return await ops.client.get(back), back


def session_set(response: httpx.Response) -> bool:
    return any(
        c.startswith(f"{COOKIE_NAME}=") and "max-age=0" not in c.lower()
        for c in response.headers.get_list("set-cookie")
    )


async def assert_refused(ops: OpsApp, answer: httpx.Response, status: int, *words: str) -> None:
    assert answer.status_code == status, answer.text
    assert "text/html" in answer.headers["content-type"]
    for word in words:
        assert word in answer.text
    assert 'href="/ops/sign-in"' in answer.text  # a way back
    # the callback's code and state leave the address bar, and no Referer carries them
    assert 'history.replaceState(null, "", location.pathname)' in answer.text
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert not session_set(answer)
    assert COOKIE_NAME not in ops.client.cookies
    assert OIDC_FLOW_COOKIE not in ops.client.cookies  # the flow is used up
    assert (await ops.client.get("/ops/aging")).status_code == 303  # still nobody


# -- the whole way, over real HTTP


async def test_an_operator_signs_in_through_the_provider_and_lands_on_the_aging_page(
    sqlite_url: str, provider_sandbox: SandboxHandle, provider: httpx.AsyncClient
) -> None:
    """Both apps on real ports, a browser that follows every redirect (cookies in plain
    http, so development settings: outside development they are Secure)."""
    sock = bound_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        environment="development",
        database_url=sqlite_url,
        temporal_address=f"127.0.0.1:{unused_port()}",
        temporal_rpc_timeout_s=0.5,
        public_base_url=base,
        **oidc_settings(provider_sandbox),
    )
    engine = create_engine(sqlite_url)
    try:
        await add_operator(session_factory(engine))
        async with (
            serve(create_app(settings), sock),
            httpx.AsyncClient(base_url=base, follow_redirects=True, timeout=10) as browser,
        ):
            page = await browser.get("/ops/aging")
            assert page.url.path == "/ops/sign-in"
            button = BUTTON.search(page.text)
            assert button and button.group(2) == "Sandbox ID", page.text
            assert 'name="password"' in page.text  # the password form stays
            landed = await browser.get(button.group(1).replace("&amp;", "&"))
            assert landed.status_code == 200, landed.text
            assert landed.url == httpx.URL(f"{base}/ops/aging")
            assert "Olivia Park" in landed.text and "Sign out" in landed.text
            assert browser.cookies.get(COOKIE_NAME)
            assert (await browser.get("/ops/queues.json")).status_code == 200
    finally:
        await engine.dispose()
    calls = (await provider.get("/_sandbox/calls", params={"api": "oidc"})).json()
    paths = [(c["path"], c["status"]) for c in calls]
    assert ("/oidc/.well-known/openid-configuration", 200) in paths
    assert ("/oidc/authorize", 302) in paths and ("/oidc/token", 200) in paths
    assert ("/oidc/jwks", 200) in paths
    token_call = next(c for c in calls if c["path"] == "/oidc/token")
    assert token_call["request_body"]["redirect_uri"] == f"{base}/ops/oidc/callback"


async def test_the_redirect_carries_state_nonce_and_pkce_and_the_flow_cookie_is_tight(
    ops: OpsApp, provider: httpx.AsyncClient
) -> None:
    start = await ops.client.get("/ops/oidc/sign-in", params={"next": "/ops/queues"})
    assert start.status_code == 303
    asked = httpx.URL(start.headers["location"]).params
    assert asked["response_type"] == "code" and asked["client_id"] == "invoiceflow-ops"
    assert asked["redirect_uri"] == "https://ops.test/ops/oidc/callback"
    assert asked["scope"].split() == ["openid", "email", "profile"]
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) >= 43
    assert asked["state"] and asked["nonce"]
    flow = next(c for c in start.headers.get_list("set-cookie") if OIDC_FLOW_COOKIE in c)
    lowered = flow.lower()
    assert "httponly" in lowered and "secure" in lowered and "samesite=lax" in lowered
    assert "path=/ops/oidc/" in lowered and "max-age=600" in lowered
    assert asked["state"] not in flow  # signed, but not ours to read back
    await add_operator(ops.sessions)
    at_provider = await provider.get(start.headers["location"])
    answer = await ops.client.get(at_provider.headers["location"])
    assert answer.status_code == 303 and answer.headers["location"] == "/ops/queues"
    assert session_set(answer)
    assert (await ops.client.get("/ops/queues")).status_code == 200


# -- who the provider's person is


async def test_an_address_with_no_operator_account_is_told_who_to_ask(
    ops: OpsApp, provider: httpx.AsyncClient
) -> None:
    await add_operator(ops.sessions)  # someone else
    await scenario(provider, email="Stranger@Finance.test", name="Sam Stranger")
    answer, _ = await through_provider(ops, provider)
    await assert_refused(
        ops,
        answer,
        403,
        "no operator account for stranger@finance.test",
        "invoiceflow operators create --email stranger@finance.test --name &#39;Sam Stranger&#39;",
    )


async def test_an_inactive_operator_is_refused(ops: OpsApp, provider: httpx.AsyncClient) -> None:
    await add_operator(ops.sessions)
    async with transaction(ops.sessions) as session:
        await operators.deactivate(session, EMAIL)
    answer, _ = await through_provider(ops, provider)
    await assert_refused(ops, answer, 403, f"The operator account for {EMAIL} is deactivated")


async def test_an_unverified_address_is_refused_and_one_without_the_claim_is_not(
    ops: OpsApp, provider: httpx.AsyncClient
) -> None:
    await add_operator(ops.sessions, password=None)  # an operator who has only the provider
    await scenario(provider, email_verified=False)
    answer, _ = await through_provider(ops, provider)
    await assert_refused(ops, answer, 403, "has not verified the e-mail address")
    await scenario(provider, email_verified=None)  # the claim left out: the e-mail counts
    answer, _ = await through_provider(ops, provider)
    assert answer.status_code == 303 and session_set(answer)


async def test_a_token_without_an_email_is_refused(
    ops: OpsApp, provider: httpx.AsyncClient
) -> None:
    await add_operator(ops.sessions)
    await scenario(provider, email=None)
    answer, _ = await through_provider(ops, provider)
    await assert_refused(ops, answer, 403, "did not say which e-mail address")


# -- the flow itself


async def test_a_callback_whose_state_is_not_this_browsers_is_refused(
    ops: OpsApp, provider: httpx.AsyncClient
) -> None:
    await add_operator(ops.sessions)
    start = await ops.client.get("/ops/oidc/sign-in")
    back = httpx.URL((await provider.get(start.headers["location"])).headers["location"])
    forged = back.copy_set_param("state", "not-the-state")
    await assert_refused(ops, await ops.client.get(forged), 400, "cannot be finished")
    # the real callback after that: its flow cookie is gone, so it is refused too
    await assert_refused(ops, await ops.client.get(back), 400, "cannot be finished")
    # a callback in a browser that never started one (a login-CSRF attempt)
    other = await through_provider(ops, provider)
    assert other[0].status_code == 303
    ops.client.cookies.clear()
    await assert_refused(ops, await ops.client.get(other[1]), 400, "cannot be finished")


async def test_the_callback_again_after_signing_in_goes_to_the_dashboards(
    ops: OpsApp, provider: httpx.AsyncClient
) -> None:
    """Back or a reload on the callback URL once it has signed this browser in: the flow
    is used up, but the operator is signed in, so no page saying nobody is."""
    await add_operator(ops.sessions)
    answer, back = await through_provider(ops, provider)
    assert answer.status_code == 303 and session_set(answer)
    again = await ops.client.get(back)
    assert again.status_code == 303 and again.headers["location"] == "/ops/aging"
    assert (await ops.client.get("/ops/aging")).status_code == 200


async def test_a_flow_cookie_that_was_tampered_with_is_refused(
    ops: OpsApp, provider: httpx.AsyncClient
) -> None:
    await add_operator(ops.sessions)
    start = await ops.client.get("/ops/oidc/sign-in")
    back = httpx.URL((await provider.get(start.headers["location"])).headers["location"])
    value = ops.client.cookies[OIDC_FLOW_COOKIE]
    ops.client.cookies.clear()
    ops.client.cookies.set(OIDC_FLOW_COOKIE, value[:-2] + "xx", "ops.test", "/ops/oidc/")
    await assert_refused(ops, await ops.client.get(back), 400, "cannot be finished")


@pytest.mark.parametrize(
    ("spoil", "failed_check"),
    [
        ("bad_signature", "bad_signature"),  # another key under the JWKS key's kid
        ("wrong_audience", "'aud'"),
        ("wrong_nonce", "'nonce'"),
        ("wrong_issuer", "'iss'"),
        ("expired", "expired_token"),
    ],
)
async def test_an_id_token_that_fails_a_check_signs_nobody_in(
    ops: OpsApp, provider: httpx.AsyncClient, spoil: str, failed_check: str
) -> None:
    await add_operator(ops.sessions)
    await scenario(provider, id_token=spoil)
    with capture_logs() as events:
        answer, _ = await through_provider(ops, provider)
    await assert_refused(ops, answer, 401, "could not be verified")
    refusals = [e for e in events if e["event"] == "ops.oidc_sign_in_refused"]
    assert len(refusals) == 1 and failed_check in refusals[0]["reason"], refusals
    # the same browser, the same provider, an honest token: in
    await scenario(provider)
    answer, _ = await through_provider(ops, provider)
    assert answer.status_code == 303 and session_set(answer)


async def test_the_operator_declining_at_the_provider_gets_a_page(
    ops: OpsApp, provider: httpx.AsyncClient
) -> None:
    await add_operator(ops.sessions)
    await scenario(provider, deny=True)
    answer, back = await through_provider(ops, provider)
    assert back.params["error"] == "access_denied"
    await assert_refused(ops, answer, 401, "Sign-in cancelled", "Sandbox ID did not sign you in")


async def test_a_refused_code_exchange_gets_a_page(
    sqlite_url: str, provider_sandbox: SandboxHandle, provider: httpx.AsyncClient
) -> None:
    settings = oidc_settings(
        provider_sandbox, public_base_url="https://ops.test", ops_oidc_client_secret="wrong"
    )
    async with ops_app(sqlite_url, **settings) as ops:
        await add_operator(ops.sessions)
        answer, _ = await through_provider(ops, provider)
        await assert_refused(ops, answer, 401, "did not accept this sign-in (invalid_client)")
    token = (await provider.get("/_sandbox/calls", params={"api": "oidc"})).json()[-1]
    assert (token["path"], token["status"]) == ("/oidc/token", 401)


async def test_a_provider_that_is_down_gets_a_page_never_a_500(
    ops: OpsApp, provider: httpx.AsyncClient, sqlite_url: str
) -> None:
    await add_operator(ops.sessions)
    await set_faults(provider, api="oidc", outage=True)
    await assert_refused(ops, await ops.client.get("/ops/oidc/sign-in"), 502, "not answering")
    # down between the redirect out and the callback (discovery is known by then)
    await provider.delete("/_sandbox/faults")
    start = await ops.client.get("/ops/oidc/sign-in")
    back = (await provider.get(start.headers["location"])).headers["location"]
    await set_faults(provider, api="oidc", outage=True)
    await assert_refused(ops, await ops.client.get(back), 502, "not answering")
    # nothing listening where the issuer should be
    nowhere = {
        "ops_oidc_issuer": f"http://127.0.0.1:{unused_port()}/oidc",
        "ops_oidc_client_id": "invoiceflow-ops",
        "ops_oidc_client_secret": "x",
    }
    async with ops_app(sqlite_url, **nowhere) as down:
        await assert_refused(down, await down.client.get("/ops/oidc/sign-in"), 502, "reached")


async def test_a_discovery_document_for_another_issuer_is_not_trusted(
    sqlite_url: str, provider_sandbox: SandboxHandle, provider: httpx.AsyncClient
) -> None:
    # the sandbox's document says http://127.0.0.1:PORT/oidc; configured by another name
    issuer = provider_sandbox.http_url.replace("127.0.0.1", "localhost") + "/oidc"
    settings = oidc_settings(provider_sandbox, ops_oidc_issuer=issuer)
    async with ops_app(sqlite_url, **settings) as ops:
        answer = await ops.client.get("/ops/oidc/sign-in")
        await assert_refused(ops, answer, 502, "not answering")


# -- off, and beside the password


async def test_without_the_settings_there_is_no_button_and_no_oidc_route(sqlite_url: str) -> None:
    async with ops_app(sqlite_url) as ops:
        page = await ops.client.get("/ops/sign-in")
        assert page.status_code == 200 and 'name="password"' in page.text
        assert "Sign in with" not in page.text and "/ops/oidc/" not in page.text
        for path in ("/ops/oidc/sign-in", "/ops/oidc/callback?code=x&state=y"):
            assert (await ops.client.get(path)).status_code == 404, path


async def test_the_password_still_signs_in_beside_the_provider(ops: OpsApp) -> None:
    await add_operator(ops.sessions)
    page = await ops.client.get("/ops/sign-in", params={"next": "/ops/flow"})
    button = BUTTON.search(page.text)
    assert button and button.group(1) == "/ops/oidc/sign-in?next=/ops/flow"
    token = CSRF.search(page.text)
    assert token
    form = {"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1), "next": "/ops/flow"}
    signed = await ops.client.post("/ops/sign-in", data=form)
    assert signed.status_code == 303 and signed.headers["location"] == "/ops/flow"
    assert (await ops.client.get("/ops/flow")).status_code == 200


async def test_half_a_configuration_stops_the_process_at_start() -> None:
    with pytest.raises(ValueError, match="INVOICEFLOW_OPS_OIDC_CLIENT_SECRET"):
        Settings(ops_oidc_issuer="https://id.example.com", ops_oidc_client_id="ops")
    with pytest.raises(ValueError, match="must be https in production"):
        Settings(
            environment="production",
            ops_oidc_issuer="http://id.example.com",
            ops_oidc_client_id="ops",
            ops_oidc_client_secret="s",
        )
    on = Settings(
        ops_oidc_issuer="https://id.example.com/realms/ops",
        ops_oidc_client_id="ops",
        ops_oidc_client_secret="s",
    )
    assert on.ops_oidc_enabled and on.ops_oidc_display_name == "id.example.com"
    assert not Settings().ops_oidc_enabled
