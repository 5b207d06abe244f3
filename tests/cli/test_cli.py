"""The operator CLI: migrations and API keys, with clear errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from cli.failures import api_errors
from cli.main import app
from core.settings import get_settings
from store import api_keys
from store.db import create_engine, session_factory


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("INVOICEFLOW_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_db_upgrade_then_apikey_create_stores_only_a_hash(database: str) -> None:
    runner = CliRunner()
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    created = runner.invoke(app, ["apikey", "create", "billing-app"])
    assert created.exit_code == 0, created.output
    plain = created.output.split("API key for billing-app: ")[1].split()[0]
    assert plain.startswith("ifk_")

    async def lookup() -> tuple[str | None, str]:
        engine = create_engine(database)
        async with session_factory(engine)() as session:
            key = await api_keys.find(session, plain)
        await engine.dispose()
        raw = Path(database.removeprefix("sqlite:///")).read_bytes()
        return (key.name if key else None), ("found" if plain.encode() in raw else "absent")

    name, plain_in_file = asyncio.run(lookup())
    assert name == "billing-app"
    assert plain_in_file == "absent"


def test_apikey_create_needs_a_name(database: str) -> None:
    result = CliRunner().invoke(app, ["apikey", "create", "  "])
    assert result.exit_code == 2
    assert "needs a name" in result.output


def test_apikey_create_before_the_migrations_says_what_to_run(database: str) -> None:
    result = CliRunner().invoke(app, ["apikey", "create", "billing-app"])

    assert result.exit_code == 1
    assert "run `invoiceflow db upgrade` first" in result.output
    assert "Traceback" not in result.output


def test_a_database_url_we_cannot_use_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICEFLOW_DATABASE_URL", "foo://somewhere/db")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 1
    assert "not a database URL InvoiceFlow can use" in result.output


def test_demo_without_a_key_or_a_running_stack_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .data/dev-api-key here
    monkeypatch.delenv("INVOICEFLOW_API_KEY", raising=False)
    no_key = CliRunner().invoke(app, ["demo"])
    no_api = CliRunner().invoke(app, ["demo", "--api-key", "x", "--api-url", "http://127.0.0.1:1"])

    assert no_key.exit_code == 1 and "No API key" in no_key.output
    assert no_api.exit_code == 1 and "No API at http://127.0.0.1:1" in no_api.output


def test_an_api_refusal_becomes_one_sentence_with_its_problem_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        problem = {"code": "invalid_api_key", "detail": "this API key is not valid"}
        return httpx.Response(401, json=problem, request=request)

    async def call() -> None:
        async with httpx.AsyncClient(
            base_url="http://api.test", transport=httpx.MockTransport(refuse)
        ) as api:
            with api_errors("http://api.test"):
                (await api.post("/customers", json={})).raise_for_status()

    with pytest.raises(typer.Exit) as exited:
        asyncio.run(call())

    assert exited.value.exit_code == 1
    said = " ".join(capsys.readouterr().err.split())
    assert "POST /customers was refused with 401 invalid_api_key" in said
    assert "is the API key right?" in said
