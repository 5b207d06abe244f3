"""The API's documentation as an upstream developer meets it: /docs works without internet,
the API key is a declared security scheme, and every error is documented as the problem
model; schemathesis then checks the running API against that document."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from core.settings import Settings
from tests.support.stack import running_stack

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture
def app_client(sqlite_url: str) -> httpx.AsyncClient:
    app = create_app(Settings(environment="test", database_url=sqlite_url))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_every_asset_from_the_app_itself(
    app_client: httpx.AsyncClient, page: str
) -> None:
    async with app_client as client:
        response = await client.get(page)
        assert response.status_code == 200
        html = response.text
        # nothing from another host: no CDN, no web fonts
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), html
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        scripts = [a for a in assets if a.endswith(".js")]
        assert scripts, f"{page} references no script"
        for asset in assets:
            loaded = await client.get(asset)
            assert loaded.status_code == 200, asset
            assert len(loaded.content) > 1000, asset
        assert "/openapi.json" in html
        assert (await client.get("/openapi.json")).status_code == 200


async def test_openapi_declares_the_api_key_once_and_only_where_it_is_needed(
    app_client: httpx.AsyncClient,
) -> None:
    async with app_client as client:
        schema = (await client.get("/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer <API key>",
    }
    assert schemes["apiKeyHeader"]["in"] == "header"
    assert schemes["apiKeyHeader"]["name"] == "X-API-Key"
    either = [{"bearerAuth": []}, {"apiKeyHeader": []}]
    paths = schema["paths"]
    assert paths["/invoices"]["post"]["security"] == either
    assert paths["/customers"]["get"]["security"] == either
    # the provider's webhook and the approver's link pages are not upstream-app operations
    assert "security" not in paths["/webhooks/payments"]["post"]
    assert paths["/webhooks/payments"]["post"]["tags"] == ["provider webhooks"]
    assert paths["/approvals/{token}"]["get"]["tags"] == ["approval links"]
    assert not [p for p in paths if p.startswith("/portal")]
    # no operation takes the key as an ordinary header parameter any more
    for path, operations in paths.items():
        for method, operation in operations.items():
            names = {p["name"].lower() for p in operation.get("parameters", [])}
            assert not names & {"authorization", "x-api-key"}, (method, path)


async def test_every_error_is_documented_as_a_problem_document(
    app_client: httpx.AsyncClient,
) -> None:
    async with app_client as client:
        schema = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    problem = schema["components"]["schemas"]["ProblemDetail"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = {s: r for s, r in operation["responses"].items() if s >= "400"}
            if path.startswith("/approvals/"):  # pages for a person, HTML or JSON on request
                assert {"400", "403", "409", "410", "503"} <= set(errors)
                continue
            assert "500" in errors, (method, path)
            for status, response in errors.items():
                assert list(response["content"]) == ["application/problem+json"], (
                    method,
                    path,
                    status,
                )
            if "security" in operation:
                assert "401" in errors, (method, path)
    assert "503" in schema["paths"]["/invoices"]["post"]["responses"]
    assert "404" in schema["paths"]["/invoices/{invoice_id}"]["get"]["responses"]
    decision = schema["paths"]["/approvals/{token}"]["post"]["requestBody"]["content"]
    assert set(decision) == {"application/x-www-form-urlencoded", "application/json"}


async def test_the_running_api_conforms_to_its_openapi_document(
    temporal: Client, sqlite_url: str, tmp_path: Path
) -> None:
    """schemathesis generates valid and invalid requests for every operation from the
    document and checks each answer: its status is documented, its content type and body
    match what the document says, and it is never a 500."""
    async with running_stack(temporal, sqlite_url) as stack:
        key = stack.api.headers["Authorization"]
        process = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS),
            "run",
            f"{stack.api_url}/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance",
            "--header",
            f"Authorization: {key}",
            "--max-examples",
            "15",
            "--seed",
            "20261202",
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--phases",
            "examples,coverage,fuzzing",
            "--no-color",
            "--warnings",
            "off",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
        )
        output, _ = await process.communicate()
    text = output.decode()
    assert process.returncode == 0, text[-20000:]
