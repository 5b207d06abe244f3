"""Who gets into the ops pages: an operator who signs in with their password, through a
form with a CSRF token; not an upstream app's API key, not a portal or approval link's
token, not a forged or missing CSRF token; a failed sign-in says nothing about whether the
address exists, and repeated failures are throttled."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from api.operator_session import COOKIE_NAME, PRE_SESSION_COOKIE
from core.links import ApprovalLink, approval_token, portal_view_token
from store import operators
from store.db import transaction
from tests.support.operators import PASSWORD, OpsApp, add_operator, ops_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = ["/ops/aging", "/ops/invoices", "/ops/queues", "/ops/flow"]


@pytest.fixture
async def ops(sqlite_url: str) -> AsyncIterator[OpsApp]:
    async with ops_app(sqlite_url) as running:
        yield running


async def _form_token(client: httpx.AsyncClient, path: str = "/ops/sign-in") -> str:
    page = await client.get(path)
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def _sign_in(
    client: httpx.AsyncClient, email: str, password: str, **extra: str
) -> httpx.Response:
    token = await _form_token(client)
    form = {"email": email, "password": password, "csrf_token": token, **extra}
    return await client.post("/ops/sign-in", data=form)


async def test_every_page_sends_a_stranger_to_sign_in_and_every_json_view_answers_401(
    ops: OpsApp,
) -> None:
    for path in PAGES:
        page = await ops.client.get(path)
        assert page.status_code == 303, path
        assert page.headers["location"] == f"/ops/sign-in?next={path.replace('/', '%2F')}"
        view = await ops.client.get(f"{path}.json")
        assert view.status_code == 401, path
        assert view.json()["code"] == "operator_sign_in_required"
    assert (await ops.client.get("/ops/cases/disputes/dsp_x")).status_code == 303


async def test_api_keys_and_portal_or_approval_tokens_open_nothing(ops: OpsApp) -> None:
    secret = ops.settings.link_signing_secret.get_secret_value()
    portal = portal_view_token(secret, "inv_1")
    approval = approval_token(
        secret,
        ApprovalLink(
            invoice_id="inv_1", request_id="r", approver_id="a", round=1, level=1, version=1
        ),
    )
    assert (
        await ops.client.get("/invoices", headers={"X-API-Key": ops.api_key})
    ).status_code != 401
    for headers in (
        {"Authorization": f"Bearer {ops.api_key}"},
        {"X-API-Key": ops.api_key},
        {"Cookie": f"{COOKIE_NAME}={portal}"},
        {"Cookie": f"{COOKIE_NAME}={approval}"},
        {"Authorization": f"Bearer {portal}"},
    ):
        for path in PAGES:
            assert (await ops.client.get(f"{path}.json", headers=headers)).status_code == 401
            assert (await ops.client.get(path, headers=headers)).status_code == 303
    for token in (portal, approval):
        assert (await ops.client.get(f"/ops/aging.json?token={token}")).status_code == 401


async def test_an_operator_signs_in_reads_the_pages_and_signs_out(ops: OpsApp) -> None:
    await add_operator(ops.sessions)
    signed = await _sign_in(ops.client, "olivia@finance.test", PASSWORD, next="/ops/queues")
    assert signed.status_code == 303
    assert signed.headers["location"] == "/ops/queues"
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith(COOKIE_NAME))
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
    assert {"httponly", "secure", "max-age", "path"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "Max-Age=43200" in cookie
    for path in PAGES:
        page = await ops.client.get(path)
        assert page.status_code == 200, path
        assert "Olivia Park" in page.text and "<script" not in page.text
        assert (await ops.client.get(f"{path}.json")).status_code == 200

    # sign-out without the form's token: a clear 403 page, still signed in
    refused = await ops.client.post("/ops/sign-out", data={})
    assert refused.status_code == 403
    assert "This form cannot be accepted" in refused.text
    forged = await ops.client.post("/ops/sign-out", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert (await ops.client.get("/ops/aging")).status_code == 200

    token = await _form_token(ops.client, "/ops/aging")
    out = await ops.client.post("/ops/sign-out", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/ops/sign-in"
    assert (await ops.client.get("/ops/aging")).status_code == 303


async def test_a_sign_in_form_without_its_token_is_refused_with_a_403_page(ops: OpsApp) -> None:
    await add_operator(ops.sessions)
    form = {"email": "olivia@finance.test", "password": PASSWORD}
    missing = await ops.client.post("/ops/sign-in", data=form)
    assert missing.status_code == 403
    assert "security token" in missing.text
    # a token of another browser's form (another nonce)
    other = OpsApp(httpx.AsyncClient(transport=ops.client._transport, base_url="https://ops.test"),
                   ops.sessions, ops.settings, ops.api_key)  # fmt: skip
    theirs = await _form_token(other.client)
    await other.client.aclose()
    await _form_token(ops.client)  # our own nonce cookie, not theirs
    stolen = await ops.client.post("/ops/sign-in", data={**form, "csrf_token": theirs})
    assert stolen.status_code == 403
    assert COOKIE_NAME not in ops.client.cookies


async def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(ops: OpsApp) -> None:
    row = await add_operator(ops.sessions)
    wrong = await _sign_in(ops.client, row.email, "not the password")
    unknown = await _sign_in(ops.client, "nobody@finance.test", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401

    def message(page: httpx.Response) -> str:
        found = re.search(r'<p class="error" role="alert">(.*?)</p>', page.text)
        assert found
        return found.group(1)

    assert message(wrong) == message(unknown)
    async with transaction(ops.sessions) as session:
        await operators.deactivate(session, row.email)
    inactive = await _sign_in(ops.client, row.email, PASSWORD)
    assert inactive.status_code == 401 and message(inactive) == message(wrong)


async def test_repeated_failures_are_throttled_for_known_and_unknown_addresses(
    ops: OpsApp,
) -> None:
    row = await add_operator(ops.sessions)
    for email in (row.email, "nobody@finance.test"):
        answers = [(await _sign_in(ops.client, email, "guess")).status_code for _ in range(6)]
        assert answers == [401] * 5 + [429]
    # throttled even with the right password, until the window passes
    assert (await _sign_in(ops.client, row.email, PASSWORD)).status_code == 429


async def test_sign_in_sends_nobody_to_another_site(ops: OpsApp) -> None:
    await add_operator(ops.sessions)
    signed = await _sign_in(ops.client, "olivia@finance.test", PASSWORD, next="https://evil.test/")
    assert signed.headers["location"] == "/ops/aging"


async def test_in_development_the_cookies_are_not_secure_only(sqlite_url: str) -> None:
    async with ops_app(sqlite_url, environment="development") as ops:
        await add_operator(ops.sessions)
        page = await ops.client.get("/ops/sign-in")
        pre = next(c for c in page.headers.get_list("set-cookie") if PRE_SESSION_COOKIE in c)
        assert "secure" not in pre.lower() and "httponly" in pre.lower()
        signed = await _sign_in(ops.client, "olivia@finance.test", PASSWORD)
        cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith(COOKIE_NAME))
        assert "secure" not in cookie.lower()
